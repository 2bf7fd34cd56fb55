"""Shell completion through the installed entry point, ``completions show|install``,
the committed scripts in ``completions/``, the pre-commit hook and ``python -m rdapctl``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer import Context
from typer.main import get_command
from typer.testing import CliRunner

from rdapctl.cli import LAZY_GROUPS, app, main
from rdapctl.cli.completion import SCRIPT_FILE_NAMES, tenant_names
from rdapctl.cli.completion_engine import resolve

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"
GENERATOR = ROOT / "scripts" / "gen_completions.py"
runner = CliRunner()

TENANTS_TOML = """\
default_tenant = "acme"

[tenants.acme]
isolation = "standard"

[tenants.globex]
isolation = "strict"

[tenants.initech]
"""


def _rdapctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (``python -m rdapctl``) with extra environment."""
    return subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bash_complete(line: str) -> list[str]:
    """Candidates bash would get for ``line`` (the cursor at its end)."""
    words = line.split(" ")
    result = _rdapctl(
        "-m",
        "rdapctl",
        env={
            "_RDAPCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.split()


def _write_profiles(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "profiles.toml"
    path.write_text(TENANTS_TOML, encoding="utf-8")
    return path


# -- completion requests ----------------------------------------------------------------


def test_top_level_completion_offers_every_command() -> None:
    """TAB after `rdapctl ` lists every command and command group the CLI declares."""
    group = get_command(app)
    declared = set(group.list_commands(Context(group)))  # type: ignore[attr-defined]
    assert {"lookup", "batch", "doctor", "completions", "cache"} <= declared
    assert set(_bash_complete("rdapctl ")) == declared


def test_subcommands_complete_with_a_prefix() -> None:
    """TAB inside a group completes its sub-commands, filtered by what was typed."""
    assert set(_bash_complete("rdapctl cache ")) == {"stats", "clear", "purge"}
    assert _bash_complete("rdapctl audit v") == ["verify"]


def test_options_of_a_command_complete() -> None:
    """`rdapctl lookup --` offers lookup's long options."""
    offered = set(_bash_complete("rdapctl lookup --"))
    assert {"--type", "--tenant", "--output", "--server", "--no-cache", "--offline"} <= offered


def test_type_values_complete() -> None:
    """`--type ` offers the query types."""
    assert _bash_complete("rdapctl lookup --type ") == [
        "domain",
        "ip",
        "autnum",
        "entity",
        "nameserver",
        "help",
        "url",
    ]
    assert _bash_complete("rdapctl bootstrap show example.com --type a") == ["autnum"]


def test_output_values_complete_per_command() -> None:
    """`-o` offers text/json/rdap for lookup and text/json elsewhere."""
    assert _bash_complete("rdapctl lookup -o ") == ["text", "json", "rdap"]
    assert _bash_complete("rdapctl cache stats -o ") == ["text", "json"]


def test_search_completes_its_kinds_options_and_values() -> None:
    """`rdapctl search` offers its searches, each search its own options, and the
    values of -o, --role and --sort."""
    assert set(_bash_complete("rdapctl search ")) == {
        "domains",
        "nameservers",
        "entities",
        "ips",
        "autnums",
        "capabilities",
    }
    offered = set(_bash_complete("rdapctl search domains --"))
    assert {"--name", "--ns-name", "--ns-ip", "--entity-email", "--limit", "--total"} <= offered
    assert "--fn" not in offered
    assert _bash_complete("rdapctl search entities -o ") == ["text", "json", "jsonl", "rdap"]
    assert _bash_complete("rdapctl search ips --entity-fn x --role reg") == [
        "registrant",
        "registrar",
    ]
    assert "name:a" in _bash_complete("rdapctl search domains --sort ")


def test_format_values_complete() -> None:
    """`--format` offers text/json/github for profile validate and text/json for doctor."""
    assert _bash_complete("rdapctl profile validate --format ") == ["text", "json", "github"]
    assert _bash_complete("rdapctl doctor --format ") == ["text", "json"]


def test_shell_argument_completes() -> None:
    """`completions show ` offers the supported shells."""
    assert _bash_complete("rdapctl completions show ") == ["bash", "zsh", "fish"]


def test_tenant_names_complete_from_the_profiles_file(rdapctl_home: Path) -> None:
    """`-t ` offers the tenants of the profiles file in RDAPCTL_HOME, filtered by prefix."""
    _write_profiles(rdapctl_home)
    assert _bash_complete("rdapctl lookup -t ") == ["acme", "globex", "initech"]
    assert _bash_complete("rdapctl keys status --tenant g") == ["globex"]


def test_tenant_names_follow_rdapctl_profiles(tmp_path: Path) -> None:
    """RDAPCTL_PROFILES decides which file's tenants are offered, as for every command."""
    other = tmp_path / "elsewhere.toml"
    other.write_text("[tenants.umbrella]\n[tenants.wayne]\n", encoding="utf-8")
    words = "rdapctl audit show -t "
    result = _rdapctl(
        "-m",
        "rdapctl",
        env={
            "_RDAPCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": "4",
            "RDAPCTL_PROFILES": str(other),
        },
    )
    assert result.stdout.split() == ["umbrella", "wayne"]


def test_tenant_completion_without_profiles_offers_default() -> None:
    """With no profiles file the built-in `default` tenant is the one offered."""
    assert _bash_complete("rdapctl lookup -t ") == ["default"]


@pytest.mark.parametrize(
    ("content", "env_profiles"),
    [
        ("this is [not toml", None),
        (None, "/nonexistent/profiles.toml"),
    ],
    ids=["broken-toml", "missing-RDAPCTL_PROFILES"],
)
def test_tenant_completion_never_fails(
    rdapctl_home: Path, content: str | None, env_profiles: str | None
) -> None:
    """A broken or missing profiles file gives no candidates, exit 0 and no traceback."""
    env = {
        "_RDAPCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": "rdapctl lookup -t ",
        "COMP_CWORD": "3",
    }
    if content is not None:
        rdapctl_home.mkdir(parents=True, exist_ok=True)
        (rdapctl_home / "profiles.toml").write_text(content, encoding="utf-8")
    if env_profiles is not None:
        env["RDAPCTL_PROFILES"] = env_profiles
    result = _rdapctl("-m", "rdapctl", env=env)
    assert result.returncode == 0
    assert result.stdout.strip() == ""
    assert result.stderr == ""


def test_tenant_names_function_never_raises(tmp_path: Path) -> None:
    """tenant_names() returns [] for a missing RDAPCTL_PROFILES instead of raising."""
    assert tenant_names({"RDAPCTL_PROFILES": str(tmp_path / "absent.toml")}) == []
    good = _write_profiles(tmp_path / "home")
    assert tenant_names({"RDAPCTL_PROFILES": str(good)}) == ["acme", "globex", "initech"]


def test_tenant_completion_imports_no_heavy_modules(rdapctl_home: Path) -> None:
    """Completing tenant names never imports httpx, cryptography, diskcache or rich."""
    _write_profiles(rdapctl_home)
    result = _rdapctl(
        "-X",
        "importtime",
        "-m",
        "rdapctl",
        env={
            "_RDAPCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": "rdapctl lookup -t ",
            "COMP_CWORD": "3",
        },
    )
    assert result.stdout.split() == ["acme", "globex", "initech"]
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "rdapctl" in imported  # the import log really covers this run
    assert not imported & {"httpx", "httpcore", "cryptography", "diskcache", "rich"}


def test_zsh_protocol_returns_described_candidates() -> None:
    """zsh gets an `_arguments` spec with each sub-command and its help."""
    result = _rdapctl(
        "-m",
        "rdapctl",
        env={"_RDAPCTL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "rdapctl cache "},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("_arguments '*: :((")
    assert '"stats":"Entries, size on disk' in result.stdout
    assert '"purge":' in result.stdout


def test_fish_protocol_returns_values_with_help() -> None:
    """fish gets one `value<TAB>help` line per candidate."""
    result = _rdapctl(
        "-m",
        "rdapctl",
        env={
            "_RDAPCTL_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
            "_TYPER_COMPLETE_ARGS": "rdapctl keys ",
        },
    )
    assert result.returncode == 0, result.stderr
    values = [line.split("\t")[0] for line in result.stdout.splitlines() if line]
    assert values == ["status", "init", "rotate", "export", "import"]
    assert "\t" in result.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_completes_in_a_real_bash(rdapctl_home: Path, tmp_path: Path) -> None:
    """Sourcing completions/rdapctl.bash in bash and pressing TAB yields tenant names."""
    _write_profiles(rdapctl_home)
    # The script calls `rdapctl`; make sure it is this interpreter's entry point.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rdapctl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rdapctl "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    script = (
        f"source {COMPLETIONS / 'rdapctl.bash'}\n"
        "COMP_WORDS=(rdapctl lookup --tenant '')\n"
        "COMP_CWORD=3\n"
        "_rdapctl_completion rdapctl '' --tenant\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "complete -p rdapctl\n"
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["acme", "globex", "initech"]
    assert "_rdapctl_completion rdapctl" in lines[-1]


# -- how the words are read ------------------------------------------------------------

_PROTOCOL_VARS = (
    "_RDAPCTL_COMPLETE",
    "COMP_WORDS",
    "COMP_CWORD",
    "_TYPER_COMPLETE_ARGS",
    "_TYPER_COMPLETE_FISH_ACTION",
)
Complete = Callable[..., tuple[object, str, str]]


@pytest.fixture
def complete(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Complete:
    """Run the entry point in this process with the given protocol variables:
    (exit status, stdout, stderr)."""

    def run(**env: str) -> tuple[object, str, str]:
        for name in _PROTOCOL_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as ended:
            main()
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return ended.value.code, out, err

    return run


def _bash(complete: Complete, words: list[str], cword: int | None = None) -> list[str]:
    """Candidates for bash's COMP_WORDS (joined by newlines, as the script does)."""
    code, out, _ = complete(
        _RDAPCTL_COMPLETE="complete_bash",
        COMP_WORDS="\n".join(words),
        COMP_CWORD=str(len(words) - 1 if cword is None else cword),
    )
    assert code == 0
    return out.split()


def _zsh(complete: Complete, line: str) -> str:
    code, out, _ = complete(_RDAPCTL_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=line)
    assert code == 0
    return out


def test_an_option_value_is_skipped_and_given_options_are_not_offered_again(
    complete: Complete,
) -> None:
    """The word after an option that takes a value is its value, even when it looks
    like an option; options already given are not offered again."""
    offered = _bash(complete, ["rdapctl", "lookup", "--tenant", "acme", "--"])
    assert "--tenant" not in offered
    assert {"--output", "--type", "--no-cache"} <= set(offered)
    assert _bash(complete, ["rdapctl", "lookup", "-t", "--no-cache", "--no"]) == [
        "--no-referral",
        "--no-cache",
        "--no-color",
    ]
    assert _bash(complete, ["rdapctl", "cache", "stats", "-o", "json", "-t", ""]) == ["default"]


def test_the_value_after_equals_completes(complete: Complete) -> None:
    """zsh and fish keep `--type=d` as one word: the value after `=` is completed."""
    assert _zsh(complete, "rdapctl lookup --type=d") == "_arguments '*: :((\"domain\"))'\n"
    assert _bash(complete, ["rdapctl", "lookup", "-t=d"]) == ["default"]


def test_short_options_cluster_and_carry_their_value(complete: Complete) -> None:
    """`-vq` is `-v -q`; `-tacme` is `-t acme`."""
    assert _bash(complete, ["rdapctl", "-vq", "c"]) == ["check", "cache", "completions"]
    offered = _bash(complete, ["rdapctl", "lookup", "-tacme", "--"])
    assert "--tenant" not in offered
    assert "--output" in offered


def test_double_dash_ends_the_options(complete: Complete) -> None:
    """After `--` a word starting with `-` is a value (the query), not an option name."""
    assert _bash(complete, ["rdapctl", "lookup", "--", "-"]) == []
    assert _bash(complete, ["rdapctl", "--", "cache", ""]) == ["stats", "clear", "purge"]


def test_an_unknown_command_leaves_the_cursor_in_its_group(complete: Complete) -> None:
    """A word that names no sub-command completes like the group before it, without error."""
    top = _bash(complete, ["rdapctl", ""])
    assert _bash(complete, ["rdapctl", "bogus", ""]) == top
    assert _bash(complete, ["rdapctl", "cache", "bogus", ""]) == ["stats", "clear", "purge"]
    assert "--help" in _bash(complete, ["rdapctl", "cache", "bogus", "--"])


def test_an_unknown_option_stops_the_reading_without_error(complete: Complete) -> None:
    """A run would fail at `--bogus`; completion still finds the option before the cursor."""
    assert _bash(complete, ["rdapctl", "lookup", "--bogus", "-t", ""]) == ["default"]
    assert _bash(complete, ["rdapctl", "--bogus", "c"]) == ["check", "cache", "completions"]


def test_words_with_spaces(complete: Complete, tmp_path: Path) -> None:
    """A quoted or escaped word is one word: a profiles path with a space decides the
    tenants offered, and a quoted query fills the argument."""
    folder = tmp_path / "my profiles"
    folder.mkdir()
    (folder / "p.toml").write_text("[tenants.umbrella]\n[tenants.wayne]\n", encoding="utf-8")
    quoted = f"'{folder / 'p.toml'}'"
    escaped = str(folder / "p.toml").replace(" ", "\\ ")
    for word in (quoted, escaped):
        words = ["rdapctl", "lookup", "--profiles", word, "-t", ""]
        assert _bash(complete, words) == ["umbrella", "wayne"]
    assert _zsh(complete, f"rdapctl keys status --profiles {quoted} -t w") == (
        "_arguments '*: :((\"wayne\"))'\n"
    )
    assert _bash(complete, ["rdapctl", "completions", "show", "'a b'", ""]) == []
    assert _bash(complete, ["rdapctl", "lookup", "'a b'", "--no-c"]) == ["--no-cache", "--no-color"]


def test_the_cursor_may_be_before_the_end_of_the_line(complete: Complete) -> None:
    """bash completes the word at COMP_CWORD; words after it do not count."""
    assert _bash(complete, ["rdapctl", "cache", "s", "-o"], cword=2) == ["stats"]


def test_completing_runs_no_option_callback(complete: Complete) -> None:
    """`rdapctl --version <TAB>` offers commands; it does not print the version."""
    assert _bash(complete, ["rdapctl", "--version", "c"]) == ["check", "cache", "completions"]


def test_fish_asks_by_exit_status_whether_rdapctl_completes(complete: Complete) -> None:
    """is-args: exit 0 (no files) when there are candidates, 1 (files) when there are
    none, printing nothing; get-args without candidates prints an empty line."""
    fish = {"_RDAPCTL_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "is-args"}
    assert complete(**fish, _TYPER_COMPLETE_ARGS="rdapctl cache ") == (0, "", "")
    assert complete(**fish, _TYPER_COMPLETE_ARGS="rdapctl lookup ") == (1, "", "")
    fish["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    assert complete(**fish, _TYPER_COMPLETE_ARGS="rdapctl lookup ") == (0, "\n", "")


def test_zsh_falls_back_to_files_without_candidates(complete: Complete) -> None:
    assert _zsh(complete, "rdapctl lookup ") == "_files\n"


@pytest.mark.parametrize(
    ("instruction", "message"),
    [
        ("bogus", "Invalid completion instruction."),
        ("complete_tcsh", "Shell tcsh not supported."),
        ("foo_bash", 'Completion instruction "foo" not supported.'),
    ],
)
def test_a_bad_instruction_exits_1_with_a_message(
    complete: Complete, instruction: str, message: str
) -> None:
    assert complete(_RDAPCTL_COMPLETE=instruction) == (1, "", message + "\n")


def test_an_empty_instruction_runs_the_command(
    complete: Complete, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_RDAPCTL_COMPLETE=` (empty) is no completion request."""
    from rdapctl import __version__

    monkeypatch.setattr(sys, "argv", ["rdapctl", "--version"])
    assert complete(_RDAPCTL_COMPLETE="") == (0, f"rdapctl {__version__}\n", "")


def test_a_malformed_bash_request_gives_no_candidates(complete: Complete) -> None:
    """Without COMP_WORDS/COMP_CWORD: no candidates and exit 0 (not a traceback)."""
    assert complete(_RDAPCTL_COMPLETE="complete_bash") == (0, "\n", "")
    code, out, _ = complete(
        _RDAPCTL_COMPLETE="complete_bash", COMP_WORDS="rdapctl\ncache", COMP_CWORD="x"
    )
    assert (code, out) == (0, "\n")


def test_resolve_reads_the_command_chain_and_typed_values(tmp_path: Path) -> None:
    """The engine names the commands on the line and the values given (as click's
    parsing converts them), so completers can use them."""
    words = ["-v", "keys", "status", "-t", "acme", "--profiles", str(tmp_path / "p.toml")]
    levels = resolve(get_command(app), "rdapctl", words)
    assert [level.ctx.info_name for level in levels] == ["rdapctl", "keys", "status"]
    assert levels[0].ctx.params == {"verbose": 1}
    assert levels[-1].ctx.params == {"tenant": "acme", "profiles": str(tmp_path / "p.toml")}
    assert levels[-1].given == {"tenant", "profiles"}


def test_lazy_groups_load_only_when_named() -> None:
    """Completing inside `cache` loads the cache group, not the other lazy groups."""
    # importlib.import_module escapes -X importtime: list sys.modules at exit instead.
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(*sys.modules, file=sys.stderr))\n"
        "from rdapctl.cli import main\n"
        "main()\n"
    )
    result = _rdapctl(
        "-c",
        code,
        env={
            "_RDAPCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": "rdapctl cache s",
            "COMP_CWORD": "2",
        },
    )
    assert result.stdout.split() == ["stats"]
    imported = set(result.stderr.split())
    assert LAZY_GROUPS["cache"] in imported
    assert not imported & {module for name, module in LAZY_GROUPS.items() if name != "cache"}


# -- committed scripts -----------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions_show_prints_the_committed_script(shell: str) -> None:
    """`rdapctl completions show SHELL` prints exactly completions/<file>."""
    result = runner.invoke(app, ["completions", "show", shell])
    assert result.exit_code == 0
    committed = (COMPLETIONS / SCRIPT_FILE_NAMES[shell]).read_text(encoding="utf-8")
    assert result.stdout == committed


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_entry_point_source_matches_the_committed_script(shell: str) -> None:
    """`_RDAPCTL_COMPLETE=source_SHELL rdapctl` prints the same script as the committed file."""
    result = _rdapctl("-m", "rdapctl", env={"_RDAPCTL_COMPLETE": f"source_{shell}"})
    assert result.returncode == 0, result.stderr
    committed = (COMPLETIONS / SCRIPT_FILE_NAMES[shell]).read_text(encoding="utf-8")
    assert result.stdout == committed


def test_committed_scripts_have_not_drifted() -> None:
    """scripts/gen_completions.py --check passes on the committed completions/."""
    result = _rdapctl(str(GENERATOR), "--check")
    assert result.returncode == 0, result.stderr


def test_generator_check_names_a_drifted_file_and_regenerates_it(tmp_path: Path) -> None:
    """--check exits 1 naming an edited script; a plain run restores it and --check passes."""
    out = tmp_path / "completions"
    assert _rdapctl(str(GENERATOR), "--dir", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(SCRIPT_FILE_NAMES.values())
    (out / "_rdapctl").write_text("#compdef rdapctl\n# hand edit\n", encoding="utf-8")
    check = _rdapctl(str(GENERATOR), "--check", "--dir", str(out))
    assert check.returncode == 1
    assert "_rdapctl" in check.stderr
    assert "rdapctl.bash" not in check.stderr
    assert _rdapctl(str(GENERATOR), "--dir", str(out)).returncode == 0
    assert _rdapctl(str(GENERATOR), "--check", "--dir", str(out)).returncode == 0


def test_zsh_script_works_autoloaded_and_sourced() -> None:
    """The zsh script is an fpath completion file (#compdef) that also works when sourced."""
    text = (COMPLETIONS / "_rdapctl").read_text(encoding="utf-8")
    assert text.startswith("#compdef rdapctl\n")
    assert "compdef _rdapctl_completion rdapctl" in text


# -- show / install --------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["powershell", "", "tcsh"])
def test_unknown_shell_is_a_usage_error(shell: str) -> None:
    """An unsupported shell exits 2 with a one-line message listing the supported ones."""
    result = runner.invoke(app, ["completions", "show", shell])
    assert result.exit_code == 2
    assert "unsupported shell" in result.stderr
    assert "bash, zsh, fish" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_accepts_a_shell_path() -> None:
    """`completions show $SHELL` works with a path such as /usr/bin/zsh."""
    result = runner.invoke(app, ["completions", "show", "/usr/bin/zsh"])
    assert result.exit_code == 0
    assert result.stdout.startswith("#compdef rdapctl")


def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "user-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def test_install_bash_writes_where_bash_completion_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bash: ~/.local/share/bash-completion/completions/rdapctl, and says so on stderr."""
    home = _isolated_home(tmp_path, monkeypatch)
    result = runner.invoke(app, ["completions", "install", "bash"])
    assert result.exit_code == 0, result.stderr
    target = home / ".local" / "share" / "bash-completion" / "completions" / "rdapctl"
    assert target.read_text(encoding="utf-8") == (COMPLETIONS / "rdapctl.bash").read_text(
        encoding="utf-8"
    )
    assert f"installed bash completion in {target}" in result.stderr
    assert f"source {target}" in result.stderr
    assert result.stdout == ""
    assert not (home / ".bashrc").exists()  # start-up files are the user's to edit

    again = runner.invoke(app, ["completions", "install", "bash"])
    assert again.exit_code == 0
    assert "already up to date" in again.stderr


def test_install_bash_honours_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bash: $XDG_DATA_HOME/bash-completion/completions/rdapctl when XDG_DATA_HOME is set."""
    _isolated_home(tmp_path, monkeypatch)
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    result = runner.invoke(app, ["completions", "install", "bash"])
    assert result.exit_code == 0
    assert (data / "bash-completion" / "completions" / "rdapctl").is_file()


def test_install_zsh_writes_to_zfunc_and_prints_the_fpath_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zsh: ~/.zfunc/_rdapctl, plus the fpath and compinit lines to add to ~/.zshrc."""
    home = _isolated_home(tmp_path, monkeypatch)
    result = runner.invoke(app, ["completions", "install", "zsh"])
    assert result.exit_code == 0
    target = home / ".zfunc" / "_rdapctl"
    assert target.read_text(encoding="utf-8").startswith("#compdef rdapctl")
    assert str(target) in result.stderr
    assert f"fpath=({home / '.zfunc'} $fpath)" in result.stderr
    assert "compinit" in result.stderr


def test_install_fish_writes_to_fish_completions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fish: ~/.config/fish/completions/rdapctl.fish, loaded automatically by new shells."""
    home = _isolated_home(tmp_path, monkeypatch)
    result = runner.invoke(app, ["completions", "install", "fish"])
    assert result.exit_code == 0
    target = home / ".config" / "fish" / "completions" / "rdapctl.fish"
    assert target.read_text(encoding="utf-8") == (COMPLETIONS / "rdapctl.fish").read_text(
        encoding="utf-8"
    )
    assert str(target) in result.stderr


def test_install_into_an_unwritable_place_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data dir that is a file gives exit 3, one message and a hint, no traceback."""
    _isolated_home(tmp_path, monkeypatch)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    result = runner.invoke(app, ["completions", "install", "bash"])
    assert result.exit_code == 3
    assert "cannot install completion script" in result.stderr
    assert "completions show" in result.stderr
    assert "Traceback" not in result.stderr


# -- packaging conventions -------------------------------------------------------------


def test_python_dash_m_rdapctl_works() -> None:
    """`python -m rdapctl --version` prints the version and exits 0."""
    from rdapctl import __version__

    result = _rdapctl("-m", "rdapctl", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"rdapctl {__version__}"


def _hook() -> dict[str, str]:
    """The single hook in .pre-commit-hooks.yaml as flat key: value pairs (no YAML dep)."""
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    pairs = re.findall(r"^(?:- |  )(\w+): (.+)$", text, flags=re.MULTILINE)
    return dict(pairs)


def test_pre_commit_hook_declares_profile_validate() -> None:
    """The hook runs `rdapctl profile validate --format text` on profiles*.toml files."""
    hook = _hook()
    assert hook["id"] == "rdapctl-profile-validate"
    assert hook["entry"] == "rdapctl profile validate --format text"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    for path in ("profiles.toml", "profiles.example.toml", "deploy/profiles-eu.toml"):
        assert files.search(path), path
    for path in ("pyproject.toml", "myprofiles.toml", "profiles.toml.bak"):
        assert not files.search(path), path


def test_pre_commit_hook_entry_passes_good_and_fails_broken_files(tmp_path: Path) -> None:
    """Running the hook's entry on staged files exits 0 for valid ones and 3 with FILE:LINE."""
    args = _hook()["entry"].split()[1:]
    good = runner.invoke(app, [*args, str(ROOT / "profiles.example.toml")])
    assert good.exit_code == 0, good.stdout
    broken = tmp_path / "profiles.toml"
    broken.write_text('[tenants.acme]\nisolation = "sometimes"\n', encoding="utf-8")
    bad = runner.invoke(app, [*args, str(broken)])
    assert bad.exit_code == 3
    assert f"{broken}:2" in bad.stdout + bad.stderr


# -- man page --------------------------------------------------------------------------

MANPAGE_GENERATOR = ROOT / "scripts" / "gen_manpage.py"


def test_man_page_has_not_drifted() -> None:
    """scripts/gen_manpage.py --check passes on the committed rdapctl.1, whatever COLUMNS is."""
    result = _rdapctl(str(MANPAGE_GENERATOR), "--check", env={"COLUMNS": "37"})
    assert result.returncode == 0, result.stderr


def test_man_page_documents_every_command_and_exit_code(tmp_path: Path) -> None:
    """The generated page has a section per sub-command and every exit code; --check sees edits."""
    from rdapctl.core.errors import ExitCode

    page = tmp_path / "rdapctl.1"
    assert _rdapctl(str(MANPAGE_GENERATOR), "--output", str(page)).returncode == 0
    text = page.read_text(encoding="utf-8")
    group = get_command(app)
    ctx = Context(group)
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        assert f".SS rdapctl {name}\n" in text, name
    assert ".SS rdapctl completions install\n" in text
    for code in ExitCode:
        assert f"\\fB{int(code)}\\fR" in text
    assert "RDAPCTL_MASTER_KEY_FILE" in text
    page.write_text(text.replace("Print the version.", "Prints it."), encoding="utf-8")
    check = _rdapctl(str(MANPAGE_GENERATOR), "--check", "--output", str(page))
    assert check.returncode == 1
    assert "out of date" in check.stderr
