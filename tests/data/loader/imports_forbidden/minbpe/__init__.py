from .basic import BasicTokenizer
from .gpt4 import GPT4Tokenizer
