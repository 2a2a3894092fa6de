"""Evaluate the lab's prompt tasks with your PromptTask, against a model behind an OpenAI-compatible API.

Usage (LABPATH_TARGET is the folder holding your prompt_lab.py; `labpath run prompt-lab`
sets it):

    python labpath/labs/prompt-lab/run.py                        # the built-in stub model
    python labpath/labs/prompt-lab/run.py --base-url http://127.0.0.1:8000/v1 --model my-gpt

Without --base-url each task is answered by a deterministic stub: the replies listed for
it in tasks.json, in turn (fenced JSON, prose around JSON, a reply cut off, a reply that
breaks the schema at first). With --base-url every prompt goes to POST
{base-url}/chat/completions (your serve lab, llama.cpp's server, ...). Writes
results.md and results.json to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLUTION = HERE / "solution"


def load_learner():
    """Import prompt_lab.py from $LABPATH_TARGET (the reference solution when unset)."""
    folder = Path(os.environ.get("LABPATH_TARGET") or SOLUTION)
    if not (folder / "prompt_lab.py").is_file():
        sys.exit(f"Error: no prompt_lab.py in {folder}")
    sys.path.insert(0, str(folder))
    import prompt_lab

    return prompt_lab


def stub_model(replies):
    """A model that answers with the given replies in turn (the last one repeats)."""
    calls = []

    def llm(prompt):
        calls.append(prompt)
        return replies[min(len(calls), len(replies)) - 1]

    return llm


def api_model(base_url, model, max_tokens, timeout):
    """A model behind POST {base_url}/chat/completions, greedy."""
    url = base_url.rstrip("/") + "/chat/completions"

    def llm(prompt):
        body = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read().decode("utf-8"))
        return reply["choices"][0]["message"]["content"] or ""

    return llm


def table(rows):
    lines = [
        "| task | ok | attempts | seconds | value or last errors |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        shown = (
            json.dumps(r["value"], ensure_ascii=False)
            if r["ok"]
            else "; ".join(r["errors"])
        )
        shown = shown.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r['task']} | {'yes' if r['ok'] else 'no'} | {r['attempts']} | "
            f"{r['seconds']:.2f} | {shown[:120]} |"
        )
    ok = sum(r["ok"] for r in rows)
    lines.append("")
    lines.append(
        f"{ok} of {len(rows)} tasks valid, {sum(r['attempts'] for r in rows)} model calls."
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--path", help="folder holding your prompt_lab.py (default: $LABPATH_TARGET)"
    )
    ap.add_argument(
        "--base-url", help="an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1"
    )
    ap.add_argument(
        "--model", default="labpath", help="the model name sent to --base-url"
    )
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    ap.add_argument(
        "--tasks", default=str(HERE / "tasks.json"), help="a tasks.json of your own"
    )
    ap.add_argument("--out", default=".", help="where results.md and results.json go")
    ap.add_argument("--device", help=argparse.SUPPRESS)  # passed by `labpath run`; unused here
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.path:
        os.environ["LABPATH_TARGET"] = str(Path(args.path).resolve())
    lab = load_learner()
    try:
        spec = json.loads(Path(args.tasks).read_text(encoding="utf-8"))
        tasks = spec["tasks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"Error: cannot read the tasks file {args.tasks}: {exc}", file=sys.stderr)
        return 2
    rows = []
    for t in tasks:
        task = lab.PromptTask(
            name=t["name"],
            template=t["template"],
            schema=t["schema"],
            examples=t.get("examples", []),
        )
        if args.base_url:
            llm = api_model(args.base_url, args.model, args.max_tokens, args.timeout)
        else:
            llm = stub_model(t["stub"])
        started = time.perf_counter()
        try:
            result = task.run(llm, t.get("inputs", {}))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            print(
                f"Error: the model at {args.base_url} did not answer: {exc}",
                file=sys.stderr,
            )
            print(
                "Hint: start it first (e.g. your serve lab), or drop --base-url to use the stub",
                file=sys.stderr,
            )
            return 3
        rows.append(
            {"task": t["name"], "seconds": time.perf_counter() - started, **result}
        )
        print(
            f"{t['name']:16s} {'ok ' if result['ok'] else 'NO '} attempts {result['attempts']}"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table(rows) + "\n", encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    print(table(rows).splitlines()[-1])
    print(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
