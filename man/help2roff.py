#!/usr/bin/env python3
# help2roff.py - builds venvctl(1) at build time: splices the COMMANDS section, made
# from venvctl's own help texts (`venvctl --help` lists the commands, `venvctl help
# CMD` gives each one's usage line and man-page-style text), into the hand-written
# template, so the page cannot drift from the CLI.
#
# usage: help2roff.py VENVCTL TEMPLATE OUTPUT
#
# The template's line `.\" generated: COMMANDS` becomes one .SS per command, in the
# order of `venvctl --help`; a line `.\" generated: NOTES` (any other section name)
# becomes the text of that section of `venvctl --help`. (Not @...@: meson's
# configure_file, which fills in @VERSION@ first, would eat it.)
#
# A help text is paragraphs separated by blank lines. A paragraph at column 0 is
# filled text. An indented one whose every line is either "TERM  description" (two
# or more spaces before the description) or a continuation aligned with that
# description becomes .TP entries (options, and tables like du's); any other
# indented paragraph is shown as it is (.EX). `code` in backquotes is set in bold.
import re
import subprocess
import sys

MARKER = re.compile(r'\.\\" generated: ([A-Z ]+)$')  # a template line to replace


def run(venvctl, *args):
    try:
        p = subprocess.run([venvctl, *args], capture_output=True, text=True)
    except OSError as e:
        sys.exit(f'help2roff: cannot run {venvctl}: {e.strerror}')
    if p.returncode != 0:
        sys.exit(f'help2roff: {venvctl} {" ".join(args)} exited {p.returncode}: {p.stderr}')
    return p.stdout


def sections(usage):
    """The sections of `venvctl --help`: {TITLE: [lines, indentation removed]}."""
    secs, title = {}, None
    for line in usage.splitlines():
        if re.match(r'[A-Z]', line):
            title = line.strip()
            secs[title] = []
        elif title:
            secs[title].append(line[4:])
    return secs


def command_names(secs):
    names = [l.split()[0] for l in secs.get('COMMANDS', []) if re.match(r'[a-z]', l)]
    if not names:
        sys.exit('help2roff: no COMMANDS in venvctl --help')
    return names


# ---- roff escaping ------------------------------------------------------------------

NOHY = '\0'  # marks a word groff must not hyphenate; see nohyphen()


def nohyphen(line):
    """\\% at the start of each word (between blanks) marked with NOHY: it must be
    at the start, since inside a word it marks a place to break."""
    return ' '.join('\\%' + w.replace(NOHY, '') if NOHY in w else w
                    for w in line.split(' '))


def esc_chars(s, code):
    """Backslashes and hyphens of plain text (or of `code` when code is set)."""
    s = s.replace('\\', '\\e')
    if code:
        return re.sub(r'(\S+)', NOHY + r'\1', s.replace('-', '\\-'))
    # A hyphen joining letters ("read-only") stays a hyphen; options, "-r", "->",
    # "py3-none-any" and the like get the minus sign, which copies as ASCII '-'.
    # Neither they nor paths, names and JSON keys are hyphenated.
    out = []
    for tok in re.split(r'(\s+)', s):
        if '-' in tok and not re.fullmatch(r'[(\["]*[A-Za-z]+(-[A-Za-z]+)+[)\]",.:;]*', tok):
            tok = NOHY + tok.replace('-', '\\-')
        elif re.search(r'["_/{}=$~@<>|]|\\e', tok):
            tok = NOHY + tok
        out.append(tok)
    return ''.join(out)


def esc_line(line, state):
    """One line of filled text: escapes, `code` in bold (state['code'] carries an
    open backquote over the line break), a leading . or ' protected."""
    parts = line.split('`')
    out = ''
    for i, p in enumerate(parts):
        if i:
            state['code'] = not state['code']
            out += '\\fB' if state['code'] else '\\fR'
        out += esc_chars(p, state['code'])
    return protect(nohyphen(out))


def protect(line):
    """A text line must not start with a control character (. or ')."""
    return '\\&' + line if line[:1] in ('.', "'") else line


def fmt_words(s):
    """A usage line or an option term: options and literal words bold, METAVARS
    italic, brackets and bars roman; spaces inside [...] do not break."""
    out, depth = '', 0
    for tok in re.findall(r'\s+|[\[\]|,]|\.\.\.|[^\s\[\]|,]+?(?=\.\.\.|[\s\[\]|,]|$)', s):
        if tok.isspace():
            out += '\\~' if depth else ' '
        elif tok in '[]':
            depth += 1 if tok == '[' else -1
            out += tok
        elif tok in ('|', '...', ','):
            out += tok
        elif re.fullmatch(r'[A-Z][A-Z0-9_]*', tok):
            out += '\\fI' + tok + '\\fR'
        else:
            out += '\\fB' + esc_chars(tok, True) + '\\fR'
    return nohyphen(out)


# ---- help text to roff --------------------------------------------------------------

def entries(block):
    """The .TP entries of an indented paragraph, or None when it is not laid out as
    "TERM  description" lines with aligned continuations."""
    ind = min(len(l) - len(l.lstrip()) for l in block)
    items, col = [], None
    for l in block:
        lead = len(l) - len(l.lstrip())
        if lead == ind:
            m = re.match(r'( *)(\S+(?: \S+)*)( {2,})(\S.*)$', l)
            if not m:
                return None
            c = len(m.group(1)) + len(m.group(2)) + len(m.group(3))
            if col is not None and c != col:
                return None
            col = c
            items.append((m.group(2), [m.group(4)]))
        elif items and lead == col:
            items[-1][1].append(l.strip())
        else:
            return None
    return items


def help_to_roff(text):
    out = []
    blocks, cur = [], []
    for line in text.rstrip('\n').split('\n'):
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    for b in blocks:
        state = {'code': False}
        items = entries(b) if b[0].startswith(' ') else None
        if items is not None:
            out.append('.PP')
            for term, desc in items:
                out.append('.TP')
                out.append(protect(fmt_words(term)))
                out += [esc_line(l, state) for l in desc]
        elif b[0].startswith(' '):  # as it is, in no-fill mode
            ind = min(len(l) - len(l.lstrip()) for l in b)
            out += ['.PP', '.RS', '.EX']
            out += [protect(l[ind:].replace('\\', '\\e').replace('-', '\\-')) for l in b]
            out += ['.EE', '.RE']
        else:
            out.append('.PP')
            out += [esc_line(l.lstrip(), state) for l in b]
        if state['code']:
            out.append('\\fR')  # an unbalanced backquote must not run on
    return out


def command_to_roff(venvctl, name):
    text = run(venvctl, 'help', name)
    head, _, rest = text.partition('\n\n')
    m = re.fullmatch(r'usage: venvctl(?: \[--[a-z]+ [A-Z]+\])* ' + re.escape(name) +
                     r'(?: (.*))?', head.strip())
    if not m:
        sys.exit(f"help2roff: cannot read the usage line of 'venvctl help {name}': {head}")
    summary, _, help_text = rest.partition('\n\n')
    out = ['.SS ' + name, '.SY "venvctl ' + name + '"']
    if m.group(1):
        out.append(fmt_words(m.group(1)))
    out.append('.YS')
    if not help_text.strip():  # no long text: the summary, as a sentence
        s = summary.strip()
        help_text = s[:1].upper() + s[1:] + ('' if s.endswith('.') else '.')
    return out + help_to_roff(help_text)


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: help2roff.py VENVCTL TEMPLATE OUTPUT')
    venvctl, template, output = sys.argv[1:]
    with open(template, encoding='utf-8') as f:
        lines = f.read().split('\n')
    if sum(1 for l in lines if l == '.\\" generated: COMMANDS') != 1:
        sys.exit(f'help2roff: {template} must have one line .\\" generated: COMMANDS')
    secs = sections(run(venvctl, '--help'))
    out = []
    for line in lines:
        m = MARKER.match(line)
        if not m:
            out.append(line)
        elif m.group(1) == 'COMMANDS':
            for name in command_names(secs):
                out += command_to_roff(venvctl, name)
        elif secs.get(m.group(1), [''])[0].strip():
            text = help_to_roff('\n'.join(secs[m.group(1)]))
            out += text[1:] if text[:1] == ['.PP'] else text  # no .PP right after .SH
        else:
            sys.exit(f'help2roff: {template}: venvctl --help has no section {m.group(1)}')
    with open(output, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out))


main()
