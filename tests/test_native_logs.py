"""TensorFlow's native start-up lines stay off the command line's stderr (unless verbose).

The command runs in a fresh process, where TensorFlow starts: no other way sees its
start-up lines. The filter itself runs against a stand-in ``tensorflow`` package that
writes a log line and a message of another kind to file descriptor 2 while it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from sfkeras.native_logs import LOG_LINE


def _sfkeras(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "SFKERAS_VERBOSE")}
    return subprocess.run([sys.executable, "-m", "sfkeras.cli", *args], capture_output=True,
                          text=True, env=env)


def _log_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if LOG_LINE.match(line)]


def test_a_command_prints_no_tensorflow_start_up_line():
    quiet = _sfkeras("info", "shapes16")
    assert quiet.returncode == 0, quiet.stderr
    assert "shapes16" in quiet.stdout
    assert _log_lines(quiet.stderr) == [], quiet.stderr


def test_verbose_shows_them_again():
    verbose = _sfkeras("--verbose", "info", "shapes16")
    assert verbose.returncode == 0, verbose.stderr
    assert _log_lines(verbose.stderr), verbose.stderr


def test_version_is_one_line():
    result = _sfkeras("--version")
    assert (result.stdout + result.stderr).splitlines() == [f"sfkeras {_version()}"]


def _version() -> str:
    import sfkeras

    return sfkeras.__version__


def test_other_native_output_is_passed_on(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(textwrap.dedent("""
        import os
        os.write(2, b"I0000 00:00:1796595611.066050   15655 port.cc:153] oneDNN notice\\n")
        os.write(2, b"Check failed: something native went wrong\\n")

        class config:
            @staticmethod
            def list_physical_devices():
                os.write(2, b"E0000 00:00:1796595615.933541   15655 cuda_platform.cc:52] "
                            b"failed call to cuInit\\n")
                return []
        """))
    code = ("from sfkeras.native_logs import start_tensorflow_quietly; "
            "start_tensorflow_quietly(); import os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
           "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Check failed: something native went wrong\n"
    assert result.stdout == "3\n"
