# messages.awk - the error-message wording a week's tests check.
#
#   awk -f weeks/messages.awk tests/week2_autograd/*.c > list
#
# Prints "needle<TAB>where" for every string literal the tests require in an error
# message (where: the function the checking macro calls, else the test file), one per
# line (sort -u them): the needle arguments of the suites' checking
# macros (EXPECT_NULL_ERR, EXPECT_FAIL_ERR, EXPECT_NAN_ERR, EXPECT_FAIL, check_message_:
# the 2nd and 3rd; ck_assert_error: the 1st), of strstr(strata_last_error(), ...), and
# of a suite's own checkers (a function with a "const char *needle" parameter: that one).
# A needle found in a message the same file sets with strata_set_error (a test's own
# hook failing on purpose) is the test's wording, not the library's, and is skipped.
# `make tiers` writes each week's list into its handout (weeks/weekN-<layer>/README.md,
# the section "Messages the tests check"), so a student knows every wording that is
# graded; handout-check fails when a list is out of date.

# The argument list of the call whose "(" is at text[p]: fills args[1..n], returns n.
function split_args(text, p,    depth, i, c, start, n, in_str, esc) {
    depth = 0
    n = 0
    in_str = 0
    start = p + 1
    for (i = p; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (in_str) {
            if (esc)
                esc = 0
            else if (c == "\\")
                esc = 1
            else if (c == "\"")
                in_str = 0
            continue
        }
        if (c == "\"")
            in_str = 1
        else if (c == "(" || c == "[" || c == "{")
            depth++
        else if (c == ")" || c == "]" || c == "}") {
            depth--
            if (depth == 0) {
                args[++n] = substr(text, start, i - start)
                return n
            }
        } else if (c == "," && depth == 1) {
            args[++n] = substr(text, start, i - start)
            start = i + 1
        }
    }
    return n
}

# A whole argument that is one string literal (or several, concatenated): its text.
function literal(a,    s) {
    gsub(/^[ \t\n]+|[ \t\n]+$/, "", a)
    if (a !~ /^"([^"\\]|\\.)*"([ \t\n]*"([^"\\]|\\.)*")*$/)
        return ""
    s = a
    gsub(/"[ \t\n]*"/, "", s)
    return substr(s, 2, length(s) - 2)
}

FNR == 1 && NR > 1 { scan() }
FNR == 1 { text = ""; file = FILENAME; sub(/^.*\//, "", file) }
{ text = text $0 "\n" }
END { scan() }

# The function an expression calls first ("var_backward(OKV(...))" -> var_backward).
function callee(e) {
    if (match(e, /[A-Za-z_][A-Za-z0-9_]*[ \t\n]*\(/) == 0)
        return ""
    e = substr(e, RSTART, RLENGTH)
    sub(/[ \t\n]*\($/, "", e)
    return e
}


function scan(    i, j, rest, name, open, n, k, s, where) {
    # Drop comments (they may quote messages that are not checked).
    while ((i = index(text, "/*")) > 0) {
        j = index(substr(text, i + 2), "*/")
        text = substr(text, 1, i - 1) " " (j ? substr(text, i + 2 + j + 1) : "")
    }
    # A test's own checker: a function with a parameter "const char *needle" (it hands
    # the needle to ck_assert_error); its calls give that argument.
    delete checker
    extra = ""
    rest = text
    while (match(rest, /[A-Za-z_][A-Za-z0-9_]*[ \t\n]*\([^;{()]*const char[ \t\n]*\*[ \t\n]*needle[ \t\n]*[,)]/)) {
        name = substr(rest, RSTART, RLENGTH)
        sub(/[ \t\n]*\(.*$/, "", name)
        open = RSTART + index(substr(rest, RSTART), "(") - 1
        n = split_args(rest, open)
        for (k = 1; k <= n; k++)
            if (args[k] ~ /needle[ \t\n]*$/ && !(name in checker)) {
                checker[name] = k
                extra = extra "|" name
            }
        rest = substr(rest, open + 1)
    }
    # A message the test file sets itself (strata_set_error in a test's hook or
    # callback) is the test's own wording, not one the library promises: a needle found
    # in one of them is not listed.
    own = ""
    rest = text
    while (match(rest, /strata_set_error[ \t\n]*\(/)) {
        open = RSTART + RLENGTH - 1
        if (split_args(rest, open) >= 1 && (s = literal(args[1])) != "")
            own = own "\n" s
        rest = substr(rest, open + 1)
    }
    rest = text
    while (match(rest, "(EXPECT_NULL_ERR|EXPECT_FAIL_ERR|EXPECT_NAN_ERR|EXPECT_FAIL|check_message_|ck_assert_error|strstr" extra ")[ \t\n]*\\(")) {
        name = substr(rest, RSTART, RLENGTH)
        sub(/[ \t\n]*\($/, "", name)
        open = RSTART + RLENGTH - 1
        n = split_args(rest, open)
        if (name in checker)
            want[checker[name]] = 1
        else if (name == "ck_assert_error")
            want[1] = 1
        else if (name == "strstr") {
            if (n >= 2 && args[1] ~ /strata_last_error/)
                want[2] = 1
        } else {
            want[2] = 1
            want[3] = 1
        }
        where = file
        if (name ~ /^EXPECT_/ && callee(args[1]) !~ /^(OK|OKV|MK|DATA|SHAPE|)$/)
            where = callee(args[1])
        for (k in want)
            if (k <= n && (s = literal(args[k])) != "" && index(own, s) == 0)
                printf "%s\t%s\n", s, where
        delete want
        rest = substr(rest, open + 1)
    }
}
