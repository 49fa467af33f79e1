"""The README's front door stays true: CI runs exactly its test command."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    return [line.strip() for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("python3 -m venv .venv")]


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.startswith("python3 -m venv")]
    assert len(ci_lines) == 1
    assert ci_lines[0] in _readme_commands()
    assert ci_lines[0].endswith("python -m pytest")


def test_readme_main_job_is_the_mnist_cli():
    main_jobs = [c for c in _readme_commands() if "tinygrad_np mnist" in c]
    assert len(main_jobs) == 1
