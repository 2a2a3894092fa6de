"""Texts for the bpe checks, written for labpath (no external data needed)."""

# Mixed scripts on purpose: accents and Greek take 2 UTF-8 bytes per character, Korean
# and Chinese 3, emoji 4 (and a ZWJ sequence), so byte-level merges split characters.
UNICODE_TEXT = "\n".join(
    [
        "The quick brown fox jumps over the lazy dog; the dog naps in the sun.",
        "Une crème brûlée, un café noir et deux croissants, s'il vous plaît !",
        "Ελληνικά: καλημέρα κόσμε, καλησπέρα κόσμε, καληνύχτα κόσμε.",
        "한국어: 안녕하세요, 반갑습니다. 안녕히 가세요, 안녕히 계세요.",
        "中文：你好，世界。你好，朋友。世界很大。",
        "Emoji: 😉 😉 🎉🎉 👩‍💻 working late, 👩‍💻 again; ½ ¼ № ™ — “quotes” ‘too’.",
        "Numbers 12345 and 2024-06-01, prices $3.50 and €4.20; x_y = snake_case.",
        "tabs\tand\ttabs, CRLF line\r\nand trailing spaces   ",
    ]
    * 3
)

ENGLISH_TEXT = (
    "The cat sat on the mat. The cat ate the rat, and then the cat sat again!\n"
    "In 1999 there were 12345 cats; in 2024 there are 67890 cats. Isn't that odd?\n"
    "She said: the hat, the bat and the mat are mine. We'll see, they're all there.\n"
) * 4

ROUNDTRIP_STRINGS = [
    "",
    "?",
    "hello world!!!? (안녕하세요!) lol123 😉",
    "naïve café – Ελληνικά, 中文, 👩‍💻🎉",
    "\n\t  leading and trailing whitespace \r\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\x00\x01 control characters \x7f and a lone \ufffd",
]
