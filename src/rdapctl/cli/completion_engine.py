"""Completion candidates computed from the command tree, through Typer's public API only.

Owns: finding where the cursor is (which command, and which option value, argument or
command/option name) from the words before it, and the candidates there
(``candidates``). The shell side (environment variables in, text out) lives in
``rdapctl.cli.completion``.

The words are read the way a run would read them (click's parser rules: options that
take a value eat the next word, ``--opt=value``, ``-tVALUE``, short clusters such as
``-vq``, ``--`` ending the options, a group's first positional word naming the
sub-command; an unknown option ends the reading there). Unlike a run, no parameter
callback and no command body ever runs: ``rdapctl --version <TAB>`` prints no version.

Must not: import httpx, cryptography, diskcache or rich (each TAB press is a whole
process). Lazy groups load only when their name is on the line or, for the group
listing, matches the word being completed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

# The click objects Typer builds (commands, contexts, parameters). Typer gives their
# base classes no public name; only their public methods and attributes are used.
Command = Any
Context = Any
Parameter = Any


@dataclass(frozen=True)
class Candidate:
    """One completion: the value to insert and, for shells that show it, a help text."""

    value: str
    help: str | None = None


@dataclass
class Level:
    """One command on the line: its context (``ctx.params`` holds the values given),
    the names of the parameters given, and the characters its options start with."""

    ctx: Context
    given: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)


def candidates(root: Command, prog_name: str, args: list[str], incomplete: str) -> list[Candidate]:
    """What may follow ``args`` (the words after ``prog_name``) when the word under the
    cursor starts with ``incomplete``."""
    levels = resolve(root, prog_name, args)
    level = levels[-1]
    prefixes = set().union(*(lv.prefixes for lv in levels))
    args = list(args)
    # Shells split "--opt=value" differently; complete the value of "--opt" alike.
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and _starts_option(incomplete, prefixes):
        name, _, incomplete = incomplete.partition("=")
        args.append(name)
    if "--" not in args and _starts_option(incomplete, prefixes):
        return command_candidates(level, incomplete)
    params = level.ctx.command.get_params(level.ctx)
    for param in params:
        if _awaits_option_value(param, args, prefixes):
            return value_candidates(level, param, incomplete)
    for param in params:
        if _awaits_argument(param, level):
            return value_candidates(level, param, incomplete)
    return command_candidates(level, incomplete)


def resolve(root: Command, prog_name: str, args: Sequence[str]) -> list[Level]:
    """The chain of commands the words name, from the root to the one the cursor is in.

    A word that names no sub-command leaves the cursor in the group before it.
    """
    level, rest = _read_words(_context(root, prog_name, None), list(args))
    levels = [level]
    while rest and isinstance(level.ctx.command, TyperGroup):
        command = level.ctx.command.get_command(level.ctx, rest[0])
        if command is None:
            break
        level, rest = _read_words(_context(command, rest[0], level.ctx), rest[1:])
        levels.append(level)
    return levels


def command_candidates(level: Level, incomplete: str) -> list[Candidate]:
    """Sub-commands of a group that start with ``incomplete`` and, when it starts like an
    option, the options of the command not given yet."""
    ctx = level.ctx
    command = ctx.command
    found: list[Candidate] = []
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            if not name.startswith(incomplete):
                continue  # checked first: get_command imports a lazy group
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                found.append(Candidate(name, sub.get_short_help_str()))
    if incomplete and not incomplete[0].isalnum():
        for param in command.get_params(ctx):
            if not isinstance(param, TyperOption) or param.hidden:
                continue
            if not param.multiple and param.name in level.given:
                continue
            found.extend(
                Candidate(name, param.help)
                for name in [*param.opts, *param.secondary_opts]
                if name.startswith(incomplete)
            )
    return found


def value_candidates(level: Level, param: Parameter, incomplete: str) -> list[Candidate]:
    """The parameter's own completions (its ``autocompletion``, or its type's choices)."""
    items = param.shell_complete(level.ctx, incomplete)
    return [Candidate(str(item.value), item.help) for item in items]


def _context(command: Command, name: str, parent: Context | None) -> Context:
    settings = dict(command.context_settings)
    settings["resilient_parsing"] = True
    return command.context_class(command, info_name=name, parent=parent, **settings)


def _starts_option(word: str, prefixes: set[str]) -> bool:
    return bool(word) and word[0] in prefixes


def _awaits_option_value(param: Parameter, args: list[str], prefixes: set[str]) -> bool:
    """True when the last words are this option's name and fewer values than it takes."""
    if not isinstance(param, TyperOption) or param.is_flag or param.count:
        return False
    for index, word in enumerate(reversed(args)):
        if index + 1 > param.nargs:
            break
        if _starts_option(word, prefixes):
            return word in param.opts
    return False


def _awaits_argument(param: Parameter, level: Level) -> bool:
    """True for an argument that still takes words (unfilled, or taking any number)."""
    if not isinstance(param, TyperArgument):
        return False
    return param.nargs == -1 or param.name not in level.given


# -- reading the words as click's parser does (without its private members) ------------


class _Stop(Exception):
    """The words cannot be read further (unknown option, missing value): a run would
    fail there, and completion works with what was read before."""


def _read_words(ctx: Context, words: list[str]) -> tuple[Level, list[str]]:
    """Read ``words`` for ``ctx.command``: record the parameters given (in ``ctx.params``
    and ``Level.given``) and return the positional words left over. For a group, the
    first of those names the sub-command and the rest are its words."""
    params = ctx.command.get_params(ctx)
    options = _OptionTable([p for p in params if isinstance(p, TyperOption)])
    level = Level(ctx, prefixes=options.prefixes | {"-"})
    raw: dict[str, Any] = {}
    positional: list[str] = []
    pending = deque(words)
    try:
        while pending:
            word = pending.popleft()
            if word == "--":
                break
            if word[:1] in options.prefixes and len(word) > 1:
                _read_option(word, pending, options, raw, level, positional)
            elif ctx.allow_interspersed_args:
                positional.append(word)
            else:
                pending.appendleft(word)
                break
    except _Stop:
        _store(level, params, raw)
        return level, positional
    positional.extend(pending)
    arguments = [p for p in params if isinstance(p, TyperArgument)]
    values, left = _unpack(positional, [p.nargs for p in arguments])
    for param, value in zip(arguments, values, strict=True):
        # An argument left without words (or only some of its nargs) is not given.
        filled = value not in (None, ()) and not (isinstance(value, tuple) and None in value)
        if filled and param.name is not None:
            raw[param.name] = value
            level.given.add(param.name)
    _store(level, params, raw)
    return level, left


class _OptionTable:
    """An option's names split as click's parser splits them (``-t`` short, the rest long)."""

    def __init__(self, options: list[Parameter]) -> None:
        self.long: dict[str, Parameter] = {}
        self.short: dict[str, Parameter] = {}
        self.secondary: set[str] = set()
        self.prefixes: set[str] = {"-", "--"}
        for option in options:
            for name in [*option.opts, *option.secondary_opts]:
                prefix = _prefix(name)
                if prefix:
                    self.prefixes.add(prefix)
                if len(prefix) == 1 and len(name) == 2:
                    self.short[name] = option
                else:
                    self.long[name] = option
            self.secondary.update(option.secondary_opts)


def _prefix(name: str) -> str:
    first = name[:1]
    if not first or first.isalnum():
        return ""
    return name[:2] if name[1:2] == first else first


def _read_option(
    word: str,
    pending: deque[str],
    options: _OptionTable,
    raw: dict[str, Any],
    level: Level,
    positional: list[str],
) -> None:
    name, sep, explicit = word.partition("=")
    option = options.long.get(name)
    if option is not None:
        if _takes_value(option):
            if sep:
                pending.appendleft(explicit)
            _record(option, name, _take_value(option, pending), options, raw, level)
        elif sep:
            raise _Stop  # a flag given a value
        else:
            _record(option, name, None, options, raw, level)
        return
    if word[:2] in options.prefixes:
        if level.ctx.ignore_unknown_options:
            positional.append(word)
            return
        raise _Stop
    _read_short_cluster(word, pending, options, raw, level, positional)


def _read_short_cluster(
    word: str,
    pending: deque[str],
    options: _OptionTable,
    raw: dict[str, Any],
    level: Level,
    positional: list[str],
) -> None:
    """``-vq`` is ``-v -q``; ``-tacme`` is ``-t acme``."""
    prefix = word[0]
    unknown: list[str] = []
    for index, char in enumerate(word[1:], start=2):
        name = prefix + char
        option = options.short.get(name)
        if option is None:
            if not level.ctx.ignore_unknown_options:
                raise _Stop
            unknown.append(char)
            continue
        if not _takes_value(option):
            _record(option, name, None, options, raw, level)
            continue
        if index < len(word):
            pending.appendleft(word[index:])
        _record(option, name, _take_value(option, pending), options, raw, level)
        break
    if unknown:
        positional.append(prefix + "".join(unknown))


def _takes_value(option: Parameter) -> bool:
    return not (option.is_flag or option.count)


def _take_value(option: Parameter, pending: deque[str]) -> Any:
    if len(pending) < option.nargs:
        raise _Stop  # the option's value is still to be typed
    if option.nargs == 1:
        return pending.popleft()
    return tuple(pending.popleft() for _ in range(option.nargs))


def _record(
    option: Parameter,
    name: str,
    value: Any,
    options: _OptionTable,
    raw: dict[str, Any],
    level: Level,
) -> None:
    key = option.name
    level.given.add(key)
    if option.count:
        raw[key] = int(raw.get(key) or 0) + 1
        return
    if option.is_flag:
        value = name not in options.secondary  # --x is True, its --no-x False
    if option.multiple:
        raw.setdefault(key, []).append(value)
    else:
        raw[key] = value


def _store(level: Level, params: list[Parameter], raw: dict[str, Any]) -> None:
    """Put the values read into ``ctx.params``, converted by each parameter's type as
    click's parsing converts them (None where that fails), for completers to read
    (the tenant completer reads ``--profiles``)."""
    ctx = level.ctx
    for param in params:
        if param.name not in raw:
            continue
        value = raw[param.name]
        if isinstance(param, TyperOption) and (param.is_flag or param.count):
            ctx.params[param.name] = value
            continue
        try:
            ctx.params[param.name] = param.type_cast_value(ctx, value)
        except Exception:
            ctx.params[param.name] = None


def _unpack(words: list[str], nargs_spec: list[int]) -> tuple[list[Any], list[str]]:
    """Share positional words among arguments as click does: fixed counts from the
    front (after a ``nargs=-1`` argument, from the back), the rest to ``nargs=-1``."""
    pending = deque(words)
    specs = deque(nargs_spec)
    values: list[Any] = []
    star: int | None = None

    def fetch(queue: deque[Any]) -> Any:
        if not queue:
            return None
        return queue.popleft() if star is None else queue.pop()

    while specs:
        nargs = fetch(specs)
        if nargs == 1:
            values.append(fetch(pending))
        elif nargs > 1:
            group = [fetch(pending) for _ in range(nargs)]
            if star is not None:
                group.reverse()
            values.append(tuple(group))
        else:
            star = len(values)
            values.append(None)
    if star is not None:
        values[star] = tuple(pending)
        pending.clear()
        values[star + 1 :] = reversed(values[star + 1 :])
    return values, list(pending)
