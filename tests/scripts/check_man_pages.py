#!/usr/bin/env python3
"""Checks that the manual pages in man/ list what the programs and the loader know.

  check_man_pages.py MANDIR VNETD VNETD_HOOK VNETCTL PRINT_CONFIG_SCHEMA

Every option that "vnetd --help", "vnetd-hook --help", "vnetctl --help" and "vnetctl
COMMAND --help" list under OPTIONS, every vnetd-hook phase and every vnetctl command must be
an item (.It) of the corresponding page; vnetctl's command options under their own command.
Every table and key the configuration loader knows (PRINT_CONFIG_SCHEMA prints them from the
loader's own lists) must be an item of vnetd.toml(5), under the subsection (.Ss) of its
table. (mandoc -Tlint is tests/scripts/check_man_lint.sh.)

Nothing here lists options or keys by hand: they come from the binaries and the loader,
so a new option or key that the pages lack fails the test.
"""
import re
import subprocess
import sys
from pathlib import Path

PAGES = ("vnetd.8", "vnetd-hook.8", "vnetctl.8", "vnetd.toml.5")

# mdoc(7) macros that may appear on an .It line of these pages: a token that is one of
# them starts a new macro, anything else is an argument of the last one.
MACROS = {
    "Ad", "An", "Ao", "Ac", "Ap", "Aq", "Ar", "Bo", "Bc", "Bq", "Brq", "Cm", "Dl", "Do",
    "Dc", "Dq", "Dv", "Em", "Er", "Ev", "Fa", "Fl", "Fn", "Ic", "Li", "Ms", "Nm", "No",
    "Ns", "Oo", "Oc", "Op", "Pa", "Po", "Pc", "Pq", "Ql", "Qo", "Qc", "Qq", "Sq", "Sy",
    "Va", "Xr", "Fx", "Ux",
}
DELIMITERS = {",", ";", ":", ".", "|", "(", ")", "[", "]", "..."}


def fail(problems):
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    sys.exit(1)


# ---- the pages -------------------------------------------------------------------------

class Item:
    """One .It line: where it is, its Fl options and Cm words, its enclosing item."""

    def __init__(self, line_no, section, subsection, parent, fl, cm):
        self.line_no, self.section, self.subsection = line_no, section, subsection
        self.parent, self.fl, self.cm = parent, fl, cm

    def ancestors(self):
        p = self.parent
        while p is not None:
            yield p
            p = p.parent


def unescape(token):
    # \- is a minus sign, \& a zero-width space (keeps a delimiter from being one).
    return token.replace("\\-", "-").replace("\\&", "")


def item_words(args):
    """The Fl options ("-c", "--config") and Cm words of an .It line's arguments."""
    fl, cm = [], []
    macro = None
    # mdoc quotes arguments with "..." and has no other quoting.
    tokens = [t[1:-1] if t.startswith('"') else t for t in re.findall(r'"[^"]*"|\S+', args)]
    for tok in tokens:
        if tok in MACROS:
            macro = tok
            continue
        if tok in DELIMITERS:
            continue
        word = unescape(tok)
        if macro == "Fl":
            fl.append("-" + word)
        elif macro == "Cm":
            cm.append(word)
    return fl, cm


def parse_page(path):
    """Every .It of an mdoc page, with its section, subsection and enclosing .It."""
    items = []
    section = subsection = ""
    # One entry per open .Bl: the last .It seen at that list level.
    lists = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        if not raw.startswith("."):
            continue
        macro, _, args = raw[1:].partition(" ")
        if macro == "Sh":
            section, subsection, lists = unescape(args.strip('"')), "", []
        elif macro == "Ss":
            subsection, lists = unescape(args.strip().strip('"')), []
        elif macro == "Bl":
            lists.append(None)
        elif macro == "El":
            if lists:
                lists.pop()
        elif macro == "It" and lists:
            parent = next((it for it in reversed(lists[:-1]) if it is not None), None)
            fl, cm = item_words(args)
            item = Item(n, section, subsection, parent, fl, cm)
            lists[-1] = item
            items.append(item)
    return items


# ---- the programs ----------------------------------------------------------------------

def run_help(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        fail([f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}"])
    return r.stdout


def help_sections(text):
    """{HEADING: [lines]} of a help text laid out like a manual page."""
    sections, current = {}, None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Z .]*", line):
            current = line
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def help_options(text, what):
    """The options an OPTIONS section lists: the terms of its entries, i.e. the lines at
    the section's own indentation that start with '-', up to the first double space."""
    lines = help_sections(text).get("OPTIONS", [])
    entries = [l for l in lines if l.strip()]
    if not entries:
        fail([f"{what}: no OPTIONS section in its --help (has the layout changed?)"])
    indent = min(len(l) - len(l.lstrip()) for l in entries)
    options = []
    for l in entries:
        if len(l) - len(l.lstrip()) != indent or not l.lstrip().startswith("-"):
            continue
        term = re.split(r"\s{2,}", l.strip())[0]
        options += OPTION.findall(term)
    if len(options) < 2:
        fail([f"{what}: found only {options} in its --help OPTIONS (has the layout changed?)"])
    return options


# What the issue asks of every page: its sections, and the pages each one refers to.
REQUIRED_SECTIONS = ("NAME", "DESCRIPTION", "FILES", "EXAMPLES", "DIAGNOSTICS", "SEE ALSO")
REQUIRED_SECTIONS_8 = ("SYNOPSIS", "EXIT STATUS")
REQUIRED_XREFS = ("jail 8", "jail.conf 5", "if_epair 4", "if_bridge 4", "pf 4", "rctl 8")

# A path the help names as a default (configuration, socket, pid file, jail.conf): the
# page must name it too. The libexec path is left out: the install rules choose it.
DEFAULT_PATH = re.compile(r"(?<![\w./-])/(?:etc|run|var|usr/local/etc)/[\w./-]*\w")


def check_structure(mandir, problems):
    for name in PAGES:
        text = (mandir / name).read_text()
        sections = re.findall(r'^\.Sh "?([^"\n]+)"?$', text, re.M)
        want = REQUIRED_SECTIONS + (REQUIRED_SECTIONS_8 if name.endswith(".8") else ())
        for sec in want:
            if sec not in sections:
                problems.append(f"man/{name}: no section {sec}")
        see_also = text.split(".Sh SEE ALSO", 1)[-1]
        xrefs = {" ".join(m.split()[:2]) for m in re.findall(r"^\.Xr (\S+ \S+)", see_also, re.M)}
        for x in REQUIRED_XREFS:
            if x not in xrefs:
                problems.append(f"man/{name}: SEE ALSO lacks {x.split()[0]}({x.split()[1]})")


def check_default_paths(page_path, help_text, what, problems):
    page = page_path.read_text().replace("\\&", "")
    for path in sorted(set(DEFAULT_PATH.findall(help_text))):
        if not re.search(r"(?<![\w./-])" + re.escape(path) + r"(?![\w.-])", page):
            problems.append(f"man/{page_path.name}: {what} names {path}, the page does not")


def check_drift(mandir, vnetd, hook, vnetctl, schema_printer):
    problems = []
    pages = {name: parse_page(mandir / name) for name in PAGES}
    checked = 0
    check_structure(mandir, problems)

    def in_description(items):
        return [it for it in items if it.section == "DESCRIPTION"]

    # vnetd(8) and vnetd-hook(8): every option is an item of DESCRIPTION.
    for page, binary in (("vnetd.8", vnetd), ("vnetd-hook.8", hook)):
        documented = {o for it in in_description(pages[page]) for o in it.fl}
        text = run_help([binary, "--help"])
        check_default_paths(mandir / page, text, f"'{Path(binary).name} --help'", problems)
        for opt in help_options(text, f"{Path(binary).name} --help"):
            checked += 1
            if opt not in documented:
                problems.append(f"man/{page}: option {opt} of '{Path(binary).name} --help' is not an .It Fl item of DESCRIPTION")
        if page == "vnetd-hook.8":
            # The phases: the word before JAIL on each SYNOPSIS line of the help.
            phases = [l.split()[-2] for l in help_sections(text).get("SYNOPSIS", []) if l.strip().endswith(" JAIL")]
            if len(phases) < 5:
                problems.append(f"vnetd-hook --help: found only phases {phases} in its SYNOPSIS")
            words = {w for it in in_description(pages[page]) for w in it.cm[:1]}
            for phase in phases:
                checked += 1
                if phase not in words:
                    problems.append(f"man/{page}: phase {phase} is not an .It Cm item of DESCRIPTION")

    # vnetctl(8): global options at the top level, commands as .It Cm items, and each
    # command's options in a list inside its own item.
    items = in_description(pages["vnetctl.8"])
    top = [it for it in items if it.parent is None]
    text = run_help([vnetctl, "--help"])
    check_default_paths(mandir / "vnetctl.8", text, "'vnetctl --help'", problems)
    global_documented = {o for it in top if not it.cm for o in it.fl}
    for opt in help_options(text, "vnetctl --help"):
        checked += 1
        if opt not in global_documented:
            problems.append(f"man/vnetctl.8: global option {opt} of 'vnetctl --help' is not a top-level .It Fl item of DESCRIPTION")
    commands = []
    for l in help_sections(text).get("COMMANDS", []):
        m = re.match(r"     ([a-z][a-z-]*)(\s|$)", l)
        if m:
            commands.append(m.group(1))
    if len(commands) < 4:
        problems.append(f"vnetctl --help: found only commands {commands} in its COMMANDS section")
    command_items = {it.cm[0]: it for it in top if it.cm}
    for cmd in commands:
        checked += 1
        if cmd not in command_items:
            problems.append(f"man/vnetctl.8: command {cmd} is not a top-level .It Cm item of DESCRIPTION")
            continue
        own = {o for it in items if command_items[cmd] in it.ancestors() for o in it.fl}
        cmd_help = run_help([vnetctl, cmd, "--help"])
        check_default_paths(mandir / "vnetctl.8", cmd_help, f"'vnetctl {cmd} --help'", problems)
        for opt in help_options(cmd_help, f"vnetctl {cmd} --help"):
            checked += 1
            if opt not in own:
                problems.append(f"man/vnetctl.8: option {opt} of 'vnetctl {cmd} --help' is not an .It Fl item inside the item of {cmd}")

    # vnetd.toml(5): each table has a subsection naming it ("[bridge.NAME]" for bridge.*),
    # each key is an .It Cm item of that subsection.
    r = subprocess.run([schema_printer], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        fail([f"{schema_printer} exited {r.returncode}: {r.stderr.strip()}"])
    tables, keys = [], []
    for line in r.stdout.splitlines():
        kind, *rest = line.split()
        if kind == "table":
            tables.append(rest[0])
        elif kind == "key":
            keys.append((rest[0], rest[1]))
    if not tables or len(keys) < 20:
        fail([f"{schema_printer} printed {len(tables)} tables and {len(keys)} keys: too few"])

    def heading_tables(subsection):
        # "[jail.NAME] and [jail_defaults]" -> jail.*, jail_defaults
        return {t.replace("NAME", "*") for t in re.findall(r"\[+([^\[\]]+)\]+", subsection)}

    toml_items = pages["vnetd.toml.5"]
    by_table = {}
    for it in toml_items:
        if it.section != "DESCRIPTION":
            continue
        for t in heading_tables(it.subsection):
            by_table.setdefault(t, set()).update(it.cm)
    for t in tables:
        checked += 1
        if not any(h == t or h.startswith(t + ".") for h in by_table):
            problems.append(f"man/vnetd.toml.5: table [{t}] has no subsection (.Ss \"[{t}...]\") with items")
    for table, key in keys:
        checked += 1
        if key not in by_table.get(table, set()):
            problems.append(f"man/vnetd.toml.5: key {key} of [{table}] is not an .It Cm item of the subsection [{table.replace('*', 'NAME')}]")

    if problems:
        fail(problems)
    print(f"man pages: {checked} options, commands, phases, tables and keys documented")


def main(argv):
    if len(argv) == 6:
        check_drift(Path(argv[1]), *argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
