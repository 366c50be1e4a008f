# cut-regions.awk - cut the solution regions of one C file (see docs/conventions.md).
#
#   awk -v week=N [-v level=core|full] [-v upto=S] [-v briefs=FILE] [-v banner=yes] \
#       -f weeks/cut-regions.awk file.c > cut.c
#
# A region is the lines between two marker lines, each alone on its line:
#
#     /* SOLUTION BEGIN week=W step=S tier=T fail=VALUE */   (fail= is optional)
#     /* SOLUTION END */
#
# T is core, stretch or given; S is the row of week W's "what to implement" table the
# region belongs to. Regions with W < N keep their code and lose their two marker lines,
# and so do, in a core handout (level=core, the default), regions of tier stretch or
# given: they ship solved. upto=S (the replay check) also keeps week N's regions of
# steps <= S solved, as if the student had done them. (level=stretch, for `make tiers`
# only, cuts the stretch regions and keeps the others.) The other regions are cut:
#   - with fail=VALUE (the region runs to the end of a function body): replaced, at the
#     marker's indentation, by "(void)p;" for each parameter of the enclosing function,
#     "strata_not_implemented(__func__, W);" and "return VALUE;" (no return when VALUE
#     is void);
#   - without fail= (file-scope helpers): deleted whole, leaving a one-line note.
# A static function or table of the file that the cut leaves without any user (its
# caller became a stub) gets "__attribute__((unused))" (under #if for gcc and clang) and
# a comment in front of it, so the handout compiles under -Werror.
# A stub opens with a comment naming its week, step and tier, the function and its
# one-line summary from the header (briefs=FILE, from weeks/briefs.awk). banner=yes
# puts a comment at the top of the file listing what the student writes in it, or
# saying that the file is given.
#
# The parameters come from the function's signature: from the last line that starts at
# column 0 with an identifier up to the line holding only "{". Handles pointers, const,
# arrays, function-pointer parameters "void (*fn)(...)", "(void)" and "...".
#
# Errors (unbalanced or malformed markers, a fail= region outside a function, a fail=
# region not followed by the function's closing brace) go to stderr as
# "FILE:LINE: message" and the exit status is 1. Plain POSIX awk (mawk, gawk, busybox).

function fatal(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
    failed = 1
    exit 1
}

function trim(s) {
    sub(/^[ \t]+/, "", s)
    sub(/[ \t]+$/, "", s)
    return s
}

# Remove /* ... */ comments from a joined signature.
function strip_block_comments(s,    i, j, rest) {
    while ((i = index(s, "/*")) > 0) {
        rest = substr(s, i + 2)
        j = index(rest, "*/")
        if (j == 0)
            return substr(s, 1, i - 1)
        s = substr(s, 1, i - 1) " " substr(rest, j + 2)
    }
    return s
}

# The name a single parameter declares, or "" for void, "..." and unnamed parameters.
function param_name(p,    q) {
    p = trim(p)
    if (p == "" || p == "void" || p == "...")
        return ""
    if (index(p, "(") > 0) {
        # Function pointer: the name follows "(*" (possibly with qualifiers between).
        if (match(p, /\([ \t]*\*[ \t]*(const[ \t]+)?[A-Za-z_][A-Za-z0-9_]*/) == 0)
            return ""
        q = substr(p, RSTART, RLENGTH)
        match(q, /[A-Za-z_][A-Za-z0-9_]*$/)
        return substr(q, RSTART, RLENGTH)
    }
    # Arrays: drop every [...] suffix.
    gsub(/\[[^]]*\]/, "", p)
    p = trim(p)
    if (match(p, /[A-Za-z_][A-Za-z0-9_]*$/) == 0)
        return ""
    q = substr(p, RSTART, RLENGTH)
    # A lone type ("int", "const Tensor *") has no name: nothing to silence.
    if (RSTART == 1 || q == "void" || q == "const" || q == "volatile" || q == "restrict")
        return ""
    if (substr(p, RSTART - 1, 1) !~ /[ \t*]/)
        return ""
    return q
}

# Fill names[1..n] with the parameter names of the signature; return n.
function parse_params(s,    i, c, depth, start, args, open, n, piece) {
    s = strip_block_comments(s)
    open = index(s, "(")
    if (open == 0)
        return -1
    depth = 0
    for (i = open; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "(")
            depth++
        else if (c == ")") {
            depth--
            if (depth == 0)
                break
        }
    }
    if (depth != 0)
        return -1
    args = substr(s, open + 1, i - open - 1)
    n = 0
    depth = 0
    start = 1
    for (i = 1; i <= length(args) + 1; i++) {
        c = (i <= length(args)) ? substr(args, i, 1) : ","
        if (c == "(" || c == "[")
            depth++
        else if (c == ")" || c == "]")
            depth--
        else if (c == "," && depth == 0) {
            piece = param_name(substr(args, start, i - start))
            if (piece != "")
                names[++n] = piece
            start = i + 1
        }
    }
    return n
}

# Output is kept until the end, so that the file's banner can list what was cut.
function emit(s) { out[++nout] = s }

# Record a cut for the banner: one line per week, step and tier, naming the functions.
function note(key, what) {
    if (!(key in todo_of)) {
        todo_key[++ntodo] = key
        todo_of[key] = what
    } else if (index(", " todo_of[key] ", ", ", " what ", ") == 0)
        todo_of[key] = todo_of[key] ", " what
}

# The name a signature defines: the identifier before its first "(".
function function_name(s,    d) {
    d = strip_block_comments(s)
    sub(/\(.*$/, "", d)
    if (match(d, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/) == 0)
        return ""
    d = substr(d, RSTART, RLENGTH)
    sub(/[ \t]+$/, "", d)
    return d
}

# Emit the words of @p text as comment lines at @p indent, at most 90 columns wide.
function wrapped(indent, first, text,    nw, w, i, cur, lead) {
    nw = split(text, w, /[ \t]+/)
    cur = indent first
    lead = indent " *"
    for (i = 1; i <= nw; i++) {
        if (w[i] == "")
            continue
        if (length(cur) + 1 + length(w[i]) > 90 && cur != lead && cur != indent first) {
            emit(cur)
            cur = lead
        }
        cur = cur " " w[i]
    }
    emit(cur " */")
}

# The stub's first line(s): where it is taught, and its contract from the header.
function contract(indent, where, fname,    text) {
    text = where ": " fname
    if ((fname in summary) && header_of[fname] ~ /\.c$/)
        text = text " - " summary[fname] ". Contract: the comment above this function."
    else if (fname in summary)
        text = text " - " summary[fname] ". Contract: " header_of[fname] "."
    else
        text = text ". Contract: the comment above and the handout."
    wrapped(indent, "/*", text)
}

function flush(    i, k) {
    if (ntodo > 0 && banner == "yes") {
        print "/*"
        print " * HANDOUT of week " week " (" level " level). What you write in this file, by the"
        print " * step of the \"what to implement\" table of its week's handout"
        print " * (weeks/weekW-<layer>/README.md):"
        for (i = 1; i <= ntodo; i++) {
            k = todo_key[i]
            nout_before = nout
            wrapped_print(" *   - " k ":", todo_of[k])
        }
        print " * Each stub repeats its function's contract. Everything else in this file is"
        print " * given: read it, call it, keep it as it is."
        if (("stretch" in kept) || ("given" in kept))
            print " * " kept_text()
        print " */"
    } else if (banner == "yes" && (("stretch" in kept) || ("given" in kept))) {
        print "/*"
        print " * HANDOUT of week " week " (" level " level): nothing to write in this file."
        print " * " kept_text()
        print " */"
    } else if (banner == "yes") {
        print "/* HANDOUT of week " week " (" level " level): this file is given; read it, do not edit it. */"
    }
    if (ntodo > 0)
        mark_unused_statics()
    for (i = 1; i <= nout; i++) {
        if (i in unused_at) {
            # One comment for a run of marked one-line tables (a file's VarOp table).
            if (!((i - 1) in unused_at) || out[i - 1] !~ /;[ \t]*$/) {
                print "/* Given, and called by code you write: unused until you write it (the"
                print " * reference's caller is cut), so the compiler is told not to warn. */"
            }
            print "#if defined(__GNUC__) || defined(__clang__)"
            print "__attribute__((unused))"
            print "#endif"
        }
        print out[i]
    }
}

# Remove comments (state kept across lines in in_cmt) and string/char literals.
function code_of(s,    r, i, j) {
    r = ""
    while (s != "") {
        if (in_cmt) {
            j = index(s, "*/")
            if (j == 0)
                return r
            s = substr(s, j + 2)
            in_cmt = 0
            continue
        }
        i = index(s, "/*")
        j = index(s, "//")
        if (i == 0 && j == 0) {
            r = r s
            break
        }
        if (j > 0 && (i == 0 || j < i)) {
            r = r substr(s, 1, j - 1)
            break
        }
        r = r substr(s, 1, i - 1) " "
        s = substr(s, i + 2)
        in_cmt = 1
    }
    gsub(/"([^"\\]|\\.)*"/, " ", r)
    gsub(/'([^'\\]|\\.)*'/, " ", r)
    return r
}

# Count the identifiers of @p code as used from @p from ("" = file scope), skipping @p skip.
function count_refs(code, from, skip,    n, w, k) {
    gsub(/[^A-Za-z0-9_]+/, " ", code)
    n = split(code, w, " ")
    for (k = 1; k <= n; k++) {
        if (w[k] == skip || w[k] !~ /^[A-Za-z_]/)
            continue
        if (from == "")
            top_ref[w[k]] = 1
        else if (!((from, w[k]) in body_ref)) {
            body_ref[from, w[k]] = 1
            users[w[k]] = users[w[k]] " " from
        }
    }
}

# A cut can leave a static function of the file without a caller (its only caller was
# stubbed), which -Wunused-function (an error under -Werror) rejects; a static table
# can lose its only user the same way. Find the static functions and variables nothing
# else in the file names any more and set unused_at[line] for flush(), which marks them.
function mark_unused_statics(    i, code, stmt, start, inbody, cur, name, nu, k, u, live) {
    in_cmt = 0
    inbody = 0
    stmt = ""
    for (i = 1; i <= nout; i++) {
        code = code_of(out[i])
        if (inbody) {
            if (code ~ /^\}/) {
                inbody = 0
                continue
            }
            count_refs(code, cur, "")
            continue
        }
        if (code ~ /^#/) {
            count_refs(code, "", "")
            stmt = ""
            continue
        }
        if (code ~ /^\{[ \t]*$/ && stmt != "") {
            cur = function_name(stmt)
            if (stmt ~ /^static[ \t]/ || stmt ~ /[ \t]static[ \t]/)
                static_def[cur] = start
            count_refs(stmt, "", cur) # parameter types and the like
            inbody = 1
            stmt = ""
            continue
        }
        if (code ~ /^[ \t]*$/ && stmt == "")
            continue
        if (stmt == "")
            start = i
        stmt = stmt " " code
        # A definition on one line: "static bool f(const T *x) { return ...; }".
        if (stmt ~ /\)[ \t]*\{.*\}[ \t]*$/ && substr(stmt, 1, index(stmt, "(")) !~ /=/) {
            cur = function_name(stmt)
            k = index(stmt, "{")
            if (substr(stmt, 1, k) ~ /(^|[ \t])static[ \t]/)
                static_def[cur] = start
            count_refs(substr(stmt, 1, k - 1), "", cur)
            count_refs(substr(stmt, k), cur, "")
            stmt = ""
            continue
        }
        if (code ~ /;[ \t]*$/ || code ~ /^\}/) {
            # A prototype names its function without using it; anything else (a table
            # of function pointers, a variable's initialiser) uses what it names.
            if (stmt !~ /=/ && index(stmt, "(") > 0)
                count_refs(stmt, "", function_name(stmt))
            else if (stmt ~ /^[ \t]*static[ \t]/ && (name = variable_name(stmt)) != "") {
                static_def[name] = start # a static table or variable: used like a function
                count_refs(stmt, "", name)
            } else
                count_refs(stmt, "", "")
            stmt = ""
        }
    }
    # Used: named at file scope or in another function's body. (gcc and clang do not
    # warn about a helper whose only caller is itself unused, so neither do we.)
    for (name in static_def) {
        live = (name in top_ref)
        nu = split(users[name], u, " ")
        for (k = 1; k <= nu && !live; k++)
            if (u[k] != name)
                live = 1
        if (!live)
            unused_at[static_def[name]] = 1
    }
}

# The name a file-scope variable definition declares: the declarator before its "="
# (read as a parameter is, so "(*const table[])(int)" gives table).
function variable_name(s,    d) {
    d = s
    sub(/=.*$/, "", d)
    return param_name(d)
}

function kept_text() {
    if ("stretch" in kept)
        return "Its stretch parts ship solved at this level (LEVEL=full cuts them: optional)."
    return "Its given parts (speed-ups: threads, Winograd) ship solved; read them if you like."
}

# Print "first" then the comma-separated words of @p text, wrapped at 90 columns.
function wrapped_print(first, text,    nw, w, i, cur) {
    nw = split(text, w, / /)
    cur = first
    for (i = 1; i <= nw; i++) {
        if (length(cur) + 1 + length(w[i]) > 90) {
            print cur
            cur = " *       "
        }
        cur = cur " " w[i]
    }
    print cur
}

BEGIN {
    # name<TAB>summary<TAB>header lines from weeks/briefs.awk (optional).
    if (briefs != "") {
        while ((getline bl < briefs) > 0) {
            nb = split(bl, bf, "\t")
            if (nb >= 3 && !(bf[1] in summary)) {
                summary[bf[1]] = bf[2]
                header_of[bf[1]] = bf[3]
            }
        }
        close(briefs)
    }
    if (week !~ /^[0-9]+$/) {
        print "cut-regions.awk: run with -v week=N" > "/dev/stderr"
        failed = 1
        exit 2
    }
    week += 0
    if (level == "")
        level = "core"
    if (level != "core" && level != "full" && level != "stretch") {
        print "cut-regions.awk: level must be core, full or stretch (got '" level "')" > "/dev/stderr"
        failed = 1
        exit 2
    }
    upto = (upto == "") ? 0 : upto + 0
    in_region = 0     # inside a region
    cutting = 0       # inside a region being cut (lines dropped)
    in_body = 0       # between a column-0 "{" line and its column-0 "}" line
    sig = ""          # the signature being collected (column-0 identifier line on)
    body_sig = ""     # the signature of the function whose body we are in
    expect_close = 0  # a fail= region just ended: the next non-blank line must be "}"
}

{
    line = $0
    code = line
    sub(/\/\/.*$/, "", code)

    if (expect_close) {
        if (line ~ /^[ \t]*$/) {
            emit(line)
            next
        }
        if (line !~ /^\}/)
            fatal("a fail= region must run to the end of its function body (the next line should be the closing \"}\")")
        expect_close = 0
    }

    if (line ~ /SOLUTION[ \t]+(BEGIN|END)/) {
        if (line ~ /^[ \t]*\/\*[ \t]*SOLUTION[ \t]+BEGIN([ \t]+[A-Za-z]+=[^ \t]+)+[ \t]*\*\/[ \t]*$/) {
            if (in_region)
                fatal("SOLUTION BEGIN inside a region that began on line " region_line)
            in_region = 1
            region_line = FNR
            indent = line
            sub(/[^ \t].*$/, "", indent)
            attrs = line
            sub(/^[ \t]*\/\*[ \t]*SOLUTION[ \t]+BEGIN[ \t]+/, "", attrs)
            sub(/[ \t]*\*\/[ \t]*$/, "", attrs)
            rweek = ""
            rstep = ""
            rtier = ""
            rfail = ""
            has_fail = 0
            na = split(attrs, kv, /[ \t]+/)
            for (a = 1; a <= na; a++) {
                eq = index(kv[a], "=")
                key = substr(kv[a], 1, eq - 1)
                val = substr(kv[a], eq + 1)
                if (key == "week")
                    rweek = val
                else if (key == "step")
                    rstep = val
                else if (key == "tier")
                    rtier = val
                else if (key == "fail") {
                    rfail = val
                    has_fail = 1
                } else
                    fatal("unknown attribute '" key "' in SOLUTION BEGIN")
            }
            if (rweek !~ /^[0-9]+$/)
                fatal("SOLUTION BEGIN needs week=N (a number)")
            rweek += 0
            if (rstep !~ /^[0-9]+$/)
                fatal("SOLUTION BEGIN needs step=S (its row in the handout's table, a number)")
            rstep += 0
            if (rtier != "core" && rtier != "stretch" && rtier != "given")
                fatal("SOLUTION BEGIN needs tier=core, tier=stretch or tier=given")
            if (has_fail && !in_body)
                fatal("a fail= region must sit inside a function body (opening \"{\" alone at column 0)")
            if (rweek < week || (level == "core" && rtier != "core") ||
                (level == "stretch" && rtier != "stretch") ||
                (rweek == week && rstep <= upto)) {
                if (rweek >= week && rtier != "core")
                    kept[rtier] = 1
                cutting = 0
                next
            }
            cutting = 1
            where = "week " rweek ", step " rstep " (" rtier ")"
            if (has_fail) {
                n = parse_params(body_sig)
                if (n < 0)
                    fatal("cannot read the parameters of the function above this region")
                fname = function_name(body_sig)
                contract(indent, where, fname)
                for (k = 1; k <= n; k++)
                    emit(indent "(void)" names[k] ";")
                emit(indent "strata_not_implemented(__func__, " rweek ");")
                if (rfail != "void")
                    emit(indent "return " rfail ";")
                note("week " rweek ", step " rstep " (" rtier ")", fname)
            } else {
                emit(indent "/* " where ": the static helpers of this step went here (the reference's")
                emit(indent " * are cut; write the ones you need). */")
                note("week " rweek ", step " rstep " (" rtier ")", "static helpers")
            }
            next
        }
        if (line ~ /^[ \t]*\/\*[ \t]*SOLUTION[ \t]+END[ \t]*\*\/[ \t]*$/) {
            if (!in_region)
                fatal("SOLUTION END without a SOLUTION BEGIN")
            in_region = 0
            if (cutting && has_fail)
                expect_close = 1
            cutting = 0
            next
        }
        fatal("malformed solution marker (expected \"/* SOLUTION BEGIN week=N step=S tier=T [fail=VALUE] */\" or \"/* SOLUTION END */\" alone on a line)")
    }

    # Track signatures and bodies on every line, cut or not, so the state stays right.
    if (!in_body) {
        if (code ~ /^[A-Za-z_]/)
            sig = code
        else if (sig != "" && code !~ /^\{/)
            sig = sig " " code
        if (code ~ /^\{[ \t]*$/) {
            in_body = 1
            body_sig = sig
            sig = ""
        } else if (code ~ /;[ \t]*$/ || code ~ /^\}/ || code ~ /^#/) {
            sig = ""
        }
    } else if (code ~ /^\}/) {
        in_body = 0
        body_sig = ""
        sig = ""
    }

    if (!cutting)
        emit(line)
}

END {
    if (failed)
        exit 1
    if (!in_region)
        flush()
    if (in_region) {
        printf "%s:%d: SOLUTION BEGIN without a SOLUTION END\n", FILENAME, region_line > "/dev/stderr"
        exit 1
    }
}
