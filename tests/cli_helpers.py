"""Running the command line in-process, for the end-to-end tests."""
from click.testing import CliRunner

from stickpose.cli import main


def invoke(*args):
    """Run ``stickpose ARGS`` (each argument turned to text) and return click's result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def ok(result) -> str:
    """The output of a command that must have succeeded."""
    assert result.exit_code == 0, result.output
    return result.output


def fails_with(result, message: str) -> None:
    """A command that must have failed with ``message`` (whitespace-folded), no traceback."""
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def as_in_a_terminal() -> None:
    """``preexec_fn`` of a child process a test stops with SIGINT: Ctrl-C acts as in a
    terminal, even where the tests themselves were started ignoring it (a CI job run in the
    background, whose children inherit the ignored SIGINT and, as the shell meant, keep it)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
