"""`--data` takes a folder where a lab reads one (retrieval: your scripts), and a lab that
reads a file says so when it is given a folder."""

import json

import pytest

from labpath import labs


@pytest.mark.torch
def test_retrieval_checks_run_on_a_folder_of_your_scripts(cli, tmp_path):
    scripts = tmp_path / "my-scripts"
    (scripts / "deploy").mkdir(parents=True)
    (scripts / "deploy" / "rollout.sh").write_text(
        "#!/bin/sh\n# roll the new release out to the canary hosts first\n"
        "for h in canary1 canary2; do ssh $h systemctl restart app; done\n"
    )
    (scripts / "report.py").write_text(
        'def weekly_report(rows):\n    """Sum failed builds per team for the weekly report."""\n'
        "    return {t: sum(r['failed'] for r in rows if r['team'] == t) for t in {r['team'] for r in rows}}\n"
    )
    (scripts / "questions.jsonl").write_text(
        json.dumps(
            {
                "question": "restart the app on the canary hosts",
                "path": "deploy/rollout.sh",
            }
        )
        + "\n"
        + json.dumps({"question": "count failed builds per team", "path": "report.py"})
        + "\n"
    )
    solution = labs.load("retrieval").solution_dir
    result = cli("check", "retrieval", "--path", solution, "--data", scripts, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    own = [r for r in report["results"] if r["name"] == "test_your_own_scripts"]
    assert own and own[0]["outcome"] == "passed"


@pytest.mark.torch
def test_a_lab_that_reads_a_file_refuses_a_folder_by_name(cli, tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    solution = labs.load("bigram").solution_dir
    result = cli("check", "bigram", "--path", solution, "--data", folder, "--json")
    assert result.exit_code == 1, result.output
    assert f"--data {folder} is a folder" in result.stdout


def test_data_that_does_not_exist_is_exit_2(cli, tmp_path):
    result = cli("check", "bigram", "--path", tmp_path, "--data", tmp_path / "nope")
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr
