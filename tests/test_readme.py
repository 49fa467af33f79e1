"""The README's front door stays true: CI runs exactly its test command."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    return [line.strip() for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("python3 -m venv .venv")]


def test_ci_runs_the_readme_commands_verbatim():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.startswith("python3 -m venv")]
    assert ci_lines == _readme_commands()  # the main job, then the tests
    assert ci_lines[-1].endswith("python -m pytest")


def test_readme_main_job_is_the_mnist_cli():
    main_jobs = [c for c in _readme_commands() if "tinygrad_np mnist" in c]
    assert len(main_jobs) == 1


def _python_blocks() -> list[str]:
    """Each ```python block, preceded by blank lines so that its line numbers are the README's
    (tracebacks point at the right lines, and `inspect` — which hypothesis uses — reads the
    right source)."""
    text = (ROOT / "README.md").read_text()
    parts = text.split("```python\n")
    blocks, line = [], parts[0].count("\n") + 1
    for part in parts[1:]:
        blocks.append("\n" * line + part.split("```", 1)[0])
        line += part.count("\n") + 1
    return blocks


def test_readme_python_examples_run(capsys):
    blocks = _python_blocks()
    assert len(blocks) == 4  # the ten-line model, the custom op property test, the CNN, the jitted step
    for block in blocks:
        exec(compile(block, str(ROOT / "README.md"), "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    loss = float(out.split("loss ", 1)[1].split()[0])
    assert loss < 1.0  # 300 SGD steps from ~2.3 (log 10)
    assert "318,010 parameters" in out
    assert float(out.split("CNN: ", 1)[1].split("%")[0]) > 80  # 100 Adam steps from chance
    assert "207,018 parameters; buffers ['bn1.running_mean', 'bn1.running_var'" in out
