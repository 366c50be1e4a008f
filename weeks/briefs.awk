# briefs.awk - the one-line summary of every function a header declares.
#
#   awk -f weeks/briefs.awk tensor/tensor.h ... > briefs.tsv
#
# Prints "name<TAB>summary<TAB>header" per declaration: the summary is the first
# sentence of the @brief in the doc comment just above the declaration, or of its
# trailing "/**< ... */", or of a plain comment just above it. Give the headers first:
# the first summary of a name wins (a .c file's comment is the fallback for static
# functions). cut-regions.awk puts it
# in each stub (see docs/conventions.md, "Solution regions"). Plain POSIX awk.

function first_sentence(s,    i) {
    gsub(/[ \t\n]+/, " ", s)
    gsub(/@(p|c|a|e|ref) /, "", s)
    sub(/^ +/, "", s)
    # Up to the first ". " (a sentence end), or the first "@" tag.
    if ((i = index(s, " @")) > 0)
        s = substr(s, 1, i - 1)
    if (match(s, /\.( |$)/))
        s = substr(s, 1, RSTART - 1)
    sub(/ +$/, "", s)
    gsub(/\t/, " ", s)
    return s
}

function brief_of(text,    i) {
    if ((i = index(text, "@brief")) > 0)
        return first_sentence(substr(text, i + 6))
    return first_sentence(text)
}

FNR == 1 { comment = ""; in_comment = 0; last_comment_end = -10; header = FILENAME; sub(/^.*\//, "", header) }

{
    line = $0
    if (in_comment) {
        t = line
        closes = index(t, "*/") > 0
        sub(/\*\/.*$/, "", t)
        sub(/^[ \t]*\*?[ \t]?/, "", t)
        if (closes) {
            sub(/\*\/.*$/, "", t)
            comment = comment " " t
            in_comment = 0
            last_comment_end = FNR
        } else
            comment = comment " " t
        next
    }
    if (line ~ /^[ \t]*\/\*/ && line !~ /^[ \t]*\/\*\*</) {
        t = line
        sub(/^[ \t]*\/\*\*?/, "", t)
        if (index(t, "*/") > 0) {
            sub(/\*\/.*$/, "", t)
            comment = t
            last_comment_end = FNR
        } else {
            comment = t
            in_comment = 1
        }
        next
    }
    # A declaration: a line starting with a type, holding "name(".
    if (line ~ /^[A-Za-z_][A-Za-z0-9_ \t*]*[ \t*][A-Za-z_][A-Za-z0-9_]*\(/ && line !~ /^(typedef|#|static inline)/) {
        d = line
        sub(/\(.*$/, "", d)
        match(d, /[A-Za-z_][A-Za-z0-9_]*$/)
        name = substr(d, RSTART, RLENGTH)
        summary = ""
        if ((i = index(line, "/**<")) > 0) {
            t = substr(line, i + 4)
            sub(/\*\/.*$/, "", t)
            summary = brief_of(t)
        } else if (last_comment_end >= FNR - 1 && comment != "")
            summary = brief_of(comment)
        if (summary != "" && !(name in seen)) {
            seen[name] = 1
            printf "%s\t%s\t%s\n", name, summary, header
        }
        comment = ""
        next
    }
    if (line !~ /^[ \t]*$/ && line !~ /^[ \t]/)
        comment = ""
}
