#!/bin/sh
# tests/harness/grade-submission.sh WEEK SUBMISSION RESULTS - the deployed autograder.
#
#   make grade-submission WEEK=2 SUBMISSION=/autograder/submission \
#        RESULTS=/autograder/results/results.json
#
# Grades week WEEK of a student's tree without trusting anything in it but the source
# files the student was asked to write:
#
#  1. The files a student may change are this tree's .c files under the five layer
#     folders that hold a solution region of week WEEK (derived from the instructor's
#     sources, never from the submission). Only those are taken from SUBMISSION (at the
#     same path, or at the path inside the layer folder when SUBMISSION is that folder);
#     headers, the Makefile, the tests and the harness always stay the instructor's. A
#     file the submission lacks keeps the handout's stubs.
#  2. A fresh copy of the handout of week WEEK is cut from this tree (earlier weeks
#     solved with the reference, later ones stubbed), the instructors' hidden tests of
#     the week are added, and the submitted files replace the handout's.
#  3. Before anything runs, each submitted file is checked (docs/grading.md, "Threat
#     model"): it must be a plain file of reasonable size inside the submission (no
#     link, no linked folder); read as the compiler reads it (the Makefile's own
#     preprocessing, the same before and after the build), it may include only the
#     course's layer headers and system headers, and use no inline assembly, no stack
#     or jump builtin and no C library structure's members; and once compiled, its
#     object may have no constructor or destructor sections, no ifunc, no section the
#     compiler does not make of C (.init, code outside .text, writable code), no data
#     among the machine code and no executable stack, define no global
#     symbol the reference's file does not, and call only what the reference's own
#     objects of the week call, the course's libraries, and a short list of harmless C
#     library functions; never a process, signal, jump or loader function. The week is
#     built here, once and bounded, with gcc and -Werror whatever the environment
#     says; a build that fails scores 0 with its log.
#  4. A refused submission gets a valid results.json with every test at 0 and the
#     reason in plain words; otherwise tests/harness/grade.sh grades the week (public
#     and hidden suites, valgrind items) in the copy without building anything, the
#     suites running as an unprivileged user when this runs as root.
#
# Environment: MAKE; GRADE_HANDOUT=dir (a handout of WEEK already cut from this tree,
# possibly built: copied instead of cutting a new one; the self-test shares one);
# GRADE_REFBUILD=dir (where the reference's objects of the week are built; reused when
# given); GRADE_OPT (compiler optimization, default the Makefile's); GRADE_VALGRIND,
# VALGRIND_POINTS, GRADE_USER as for grade.sh; GRADE_GATE=off skips step 3's checks
# (only for the self-test, to show the run-time defenses hold on their own);
# GRADE_BUILD_TIMEOUT (seconds for each build step, default 900); GRADE_KEEP=yes keeps
# the temporary folder.
# Exit status: 0 when RESULTS was written (whatever the score), 2 on bad usage.
set -u
LC_ALL=C
export LC_ALL

usage() {
    echo "usage: $0 WEEK SUBMISSION RESULTS" >&2
    exit 2
}
[ $# -eq 3 ] || usage
week=$1
submission=$2
results=$3
case $week in '' | *[!0-9]*) usage ;; esac
[ -d "$submission" ] || { echo "grade-submission: $submission is not a folder" >&2; exit 2; }
case $results in /*) ;; *) results=$(pwd)/$results ;; esac
submission=$(cd "$submission" && pwd -P)

root=$(cd "$(dirname "$0")/../.." && pwd)
make=${MAKE:-make}
layers="tensor autograd nn optim modular"
max_bytes=1048576

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-submission.XXXXXX") || exit 2
chmod 700 "$tmp"
if [ "${GRADE_KEEP:-no}" = yes ]; then
    echo "grade-submission: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT INT TERM
fi
tree=$tmp/tree
gdir=$tmp/grade
refbuild=${GRADE_REFBUILD:-$tmp/refbuild}
start=$(date +%s)

# ------------------------------------------------------------ the week's files ---
files=$(cd "$root" && for l in $layers; do
    [ -d "$l" ] && find "$l" -type f -name '*.c'
done | sort | while IFS= read -r f; do
    grep -Eq "SOLUTION BEGIN week=$week([^0-9]|\$)" "$root/$f" && printf '%s\n' "$f"
done)
if [ -z "$files" ]; then
    echo "grade-submission: week $week has no solution regions in this tree" >&2
    exit 2
fi
# The week's layer: the folder of its files (one per week in this course).
layer=$(printf '%s\n' "$files" | sed 's|/.*||' | sort -u | tail -n 1)
# The suites of the week, public then hidden: "name source-dir" per line.
suites=$(cd "$root" && for d in tests/week${week}_*/ tests/hidden/week${week}_*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d")
    case $d in tests/hidden/*) name=${name}_hidden ;; esac
    printf '%s %s\n' "$name" "${d%/}"
done)
echo "grade-submission: week $week; files taken from the submission:" $files

# --------------------------------------------------------- the pristine tree ---
if [ -n "${GRADE_HANDOUT:-}" ]; then
    cp -a "$GRADE_HANDOUT" "$tree" || exit 2
else
    sh "$root/weeks/cut-handout.sh" "$week" "$tree" >"$tmp/cut.log" 2>&1 || {
        cat "$tmp/cut.log" >&2
        echo "grade-submission: cannot cut the handout of week $week" >&2
        exit 2
    }
fi
if [ -d "$root/tests/hidden" ]; then
    for d in "$root"/tests/hidden/week${week}_*/; do
        [ -d "$d" ] || continue
        mkdir -p "$tree/tests/hidden"
        cp -R "${d%/}" "$tree/tests/hidden/"
    done
fi
mkdir -p "$gdir"

# no_run KIND TEXT: every test of the week at 0, with TEXT as its output (KIND "refused":
# TEXT is why the submission was refused; "note": the build log of a week that did not
# build); results.json still valid. Nothing of the submission runs.
no_run() {
    names=
    for s in $(printf '%s\n' "$suites" | cut -d' ' -f1); do
        src=$(printf '%s\n' "$suites" | awk -v n="$s" '$1 == n { print $2 }')
        list_from_sources "$root/$src" >"$gdir/$s.list"
        # A core handout's stretch tests carry no points, as grade.sh reports them.
        if grep -q 'level=core' "$tree/.handout" 2>/dev/null && [ -f "$root/$src/stretch-tests.txt" ]; then
            awk 'FILENAME == ARGV[1] { if ($0 !~ /^#/ && NF) s[$1] = 1; next }
                 { print $1, (($1 in s) ? 0 : $2) }' "$root/$src/stretch-tests.txt" \
                "$gdir/$s.list" >"$gdir/$s.list.core"
            mv "$gdir/$s.list.core" "$gdir/$s.list"
        fi
        printf '%s\n' "$2" >"$gdir/$s.$1"
        if [ "${GRADE_VALGRIND:-yes}" = no ]; then
            echo skipped >"$gdir/$s.valgrind"
        elif [ "$1" = refused ]; then
            printf 'failed\nnot run: the submission was refused\n' >"$gdir/$s.valgrind"
        else
            printf 'failed\nthe suite did not build\n' >"$gdir/$s.valgrind"
        fi
        names="$names $s"
    done
    # shellcheck disable=SC2086
    "$tool" --strict --dir "$gdir" --out "$results" --valgrind-points "${VALGRIND_POINTS:-5}" \
        --time "$(($(date +%s) - start))" $names
    exit 0
}
# refuse REASON: refused before anything runs.
refuse() {
    echo "grade-submission: refused: $1"
    no_run refused "the submission was refused before any test ran: $1"
}
# not_built: the week's code did not compile (or link); graded 0 with the end of the
# build log, as grade.sh grades a suite that does not build. It is never built a second
# time: a file that compiles only on a second try (it tests for a file the first try
# left behind) must not reach the tests unchecked.
not_built() {
    echo "grade-submission: the week does not build"
    no_run note "the suite did not build; the end of the build log:
$(tail -n 30 "$tmp/build.log")"
}

# The tests a suite declares, from its sources (as grade.sh does).
list_from_sources() {
    cat "$1"/*.c 2>/dev/null | awk '
        {
            line = $0
            while (match(line, /GRADED(_TIMED)?[ \t]*\([^,()]+,[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*,[ \t]*[0-9]+/)) {
                m = substr(line, RSTART, RLENGTH)
                line = substr(line, RSTART + RLENGTH)
                sub(/^[^(]*\(/, "", m)
                n = split(m, part, ",")
                gsub(/[ \t]/, "", part[2])
                gsub(/[ \t]/, "", part[3])
                print part[2], part[3]
            }
        }'
}

tool=$tree/build/tools/grade
(cd "$tree" && $make --no-print-directory BUILD=build build/tools/grade) >"$tmp/tool.log" 2>&1 || {
    cat "$tmp/tool.log" >&2
    echo "grade-submission: cannot build the grader tool" >&2
    exit 2
}

# ----------------------------------------------- take the submission's files ---
notes=
for f in $files; do
    inner=${f#*/}
    if [ -e "$submission/$f" ] || [ -L "$submission/$f" ]; then
        from=$submission/$f
    elif [ -e "$submission/$inner" ] || [ -L "$submission/$inner" ]; then
        from=$submission/$inner
    else
        notes="$notes $f"
        continue
    fi
    [ -L "$from" ] && refuse "$f is a symbolic link; a submission must contain plain files"
    [ -f "$from" ] || refuse "$f is not a plain file"
    # Nor reached through a linked folder (autograd -> the instructor's autograd): the
    # file itself must lie inside the submission.
    case $(realpath -e -- "$from" 2>/dev/null) in
        "$submission"/*) ;;
        *) refuse "$f is reached through a symbolic link to outside the submission; a submission must contain plain files" ;;
    esac
    size=$(wc -c <"$from")
    [ "$size" -le "$max_bytes" ] || refuse "$f is $size bytes; the limit is $max_bytes"
    # cmp: a file identical to the handout's keeps its time stamp (and its object).
    cmp -s "$from" "$tree/$f" || cat "$from" >"$tree/$f" || refuse "$f cannot be read"
done
[ -z "$notes" ] || echo "grade-submission: not in the submission, graded as handed out:$notes"

# The compiler and its warnings are the grader's, whatever the environment says: gcc,
# with -Werror. The source checks below learn which lines are the file's own from the
# preprocessor's line markers, and a file may write such a marker itself
# (`# 1 "tensor/tensor.h" 1`: the lines after it would pass for the header's). gcc calls
# that style of line directive an extension, an error under -Wpedantic -Werror (no
# pragma turns it off); clang accepts it without a word.
cflags_opt="CC=gcc WERROR=-Werror${GRADE_OPT:+ OPT=$GRADE_OPT}"
objs=
pps=
for f in $files; do
    objs="$objs build/obj/${f%.c}.o"
    pps="$pps build/obj/${f%.c}.i"
done
# The suites' binaries and the libraries up to the week's layer (reference code below
# the week, the handout elsewhere in the layer).
bins=$(printf '%s\n' "$suites" | awk '{ printf " build/tests/%s", $1 }')
libs=
libfiles=
for l in $layers; do
    libs="$libs lib-$l"
    libfiles="$libfiles $tree/build/lib/libstrata_$l.a"
    [ "$l" = "$layer" ] && break
done

# build_tree TARGET...: make them in the graded tree, bounded: a submission that makes
# the compiler loop, read a device or write without end (a macro bomb) costs its week,
# not the machine. Everything is built here, before grading, and nothing after the
# checks below (grade.sh runs with GRADE_NO_BUILD=yes).
build_timeout=${GRADE_BUILD_TIMEOUT:-900}
build_tree() {
    # shellcheck disable=SC2086
    (
        ulimit -f 1048576 2>/dev/null
        ulimit -v 4194304 2>/dev/null
        cd "$tree" && exec timeout -k 10 "$build_timeout" $make -s --no-print-directory -j2 \
            BUILD=build $cflags_opt "$@"
    ) </dev/null
}

# ------------------------------------------------------- the source checks ---
# The checks read each file as the compiler reads it: preprocessed by the Makefile's own
# rule (build/obj/X.i, with the very flags of build/obj/X.o: -O, -fPIC, ... so that
# `#ifdef __OPTIMIZE__` hides nothing), and the headers that pass read (X.i.d). The
# files are preprocessed twice, before and after the build, and must come out the same:
# a file that tests for something the build leaves behind (`__has_include` of an object
# or a log) would otherwise show the checks one text and the compiler another.
# shellcheck disable=SC2086
preprocess() { (cd "$tree" && rm -f $pps) && build_tree -B $pps; }
# check_includes FILE: refuse FILE if a header it reads (the make rule "x: ..." on
# standard input) is neither one of the course's headers (found in the layer folders
# of the instructor's tree) nor a system header.
check_includes() {
    for d in $(sed -e 's/^x://' -e 's/\\$//'); do
        [ "$d" = "$1" ] && continue
        # Where it really is (no ".." or link tricks): a system header, or a header of
        # a layer folder that the instructor's tree has too.
        real=$(cd "$tree" && realpath -m -- "$d")
        ok=no
        case $real in
            "$tree"/*)
                rel=${real#"$tree"/}
                for l in $layers; do
                    case $rel in "$l"/*.h) [ -f "$root/$rel" ] && ok=yes ;; esac
                done ;;
            /usr/include/* | /usr/lib/*) ok=yes ;;
        esac
        [ $ok = yes ] || refuse "$1 includes $d; a submission may include only the course's headers and system headers"
    done
}
: >"$tmp/build.log"
if [ "${GRADE_GATE:-on}" != off ]; then
    # A file that does not preprocess does not compile either: graded as not built;
    # but one that includes what it may not (a test header, which in turn includes
    # what the layer cannot see) is told so: its headers, missing ones too (-MG).
    if ! preprocess >>"$tmp/build.log" 2>&1; then
        for f in $files; do
            mm=build/obj/${f%.c}.mm
            build_tree -B "$mm" >/dev/null 2>&1 && check_includes "$f" <"$tree/$mm"
        done
        not_built
    fi
    for f in $files; do
        i=$tree/build/obj/${f%.c}.i
        cp "$i" "$i.first"
        # Includes: only the course's headers and system headers.
        check_includes "$f" <"$i.d"
        # Which lines are the file's own, the checks below learn from the line markers;
        # a #line directive naming another file (a header) would hide the lines after
        # it. The compiler marks entering (1) and leaving (2) a header; any other change
        # of file (after the command-line preamble) is such a directive.
        renamed=$(awk -v f="$f" '/^# [0-9]+ "/ {
                split($0, p, "\""); flags = p[3]
                if (flags !~ /(^| )[12]( |$)/ && cur != "" && p[2] != cur &&
                    cur !~ /^<(built-in|command-line)>$/ && p[2] !~ /^<(built-in|command-line)>$/) {
                    print p[2]; exit
                }
                cur = p[2]
            }' "$i")
        [ -z "$renamed" ] ||
            refuse "$f renames its lines as \"$renamed\" (#line); submissions may not"
        # The file's own preprocessed lines (macros expanded, headers left out).
        awk -v f="$f" '/^# [0-9]+ "/ { split($0, p, "\""); mine = (p[2] == f); next }
            mine' "$i" >"$tmp/pp.c"
        # Inline assembly, even behind a macro.
        if grep -Eq '(^|[^A-Za-z0-9_])(asm|__asm|__asm__)([^A-Za-z0-9_]|$)' "$tmp/pp.c"; then
            refuse "$f contains inline assembly; submissions may not"
        fi
        # The builtins that read or rewrite the call stack or jump: the harness's frames
        # (and the completion record's nonce in them) are not the submission's business.
        b=$(grep -oE '__builtin_(frame_address|return_address|extract_return_addr|setjmp|longjmp|eh_return|unwind_init|apply_args|apply|return)([^A-Za-z0-9_]|$)' \
            "$tmp/pp.c" | head -n 1 | sed 's/[^A-Za-z0-9_]*$//')
        [ -z "$b" ] || refuse "$f uses $b; submissions may not"
        # The C library's internals: the members of its structures (FILE's _fileno,
        # _IO_write_ptr, ...) all begin with an underscore, and no course structure's do.
        m=$(grep -oE '((->|\.)|__builtin_offsetof[[:space:]]*\([^,]*,)[[:space:]]*_[A-Za-z0-9_]*' \
            "$tmp/pp.c" | head -n 1 | sed 's/^.*[-.>,[:space:]]//')
        [ -z "$m" ] || refuse "$f uses the member $m of a C library structure; submissions may not"
    done
fi

# --------------------------------------------------------------- build ---
# The week's objects first (a compile error is graded: 0, with the compiler's message).
build_tree $objs >>"$tmp/build.log" 2>&1 || not_built
if [ "${GRADE_GATE:-on}" != off ]; then
    preprocess >>"$tmp/build.log" 2>&1 || not_built
    for f in $files; do
        i=$tree/build/obj/${f%.c}.i
        cmp -s "$i" "$i.first" ||
            refuse "$f preprocesses differently from one build to the next (it tests for files the build leaves behind); submissions may not"
    done
fi

# ------------------------------------------------------- the object checks ---
# Never, whatever the reference does: processes, signals, non-local jumps, the loader,
# exit paths, privileges; and the course's own function that runs a program
# (train_plot_csv starts gnuplot; it refuses the paths gnuplot would run as commands, and
# no week's code has a reason to start a program at all).
deny="_exit _Exit exit quick_exit at_quick_exit atexit on_exit __cxa_atexit __cxa_thread_atexit_impl
fork vfork clone clone3 __clone posix_spawn posix_spawnp system execl execlp execle execv execvp
execvpe execve execveat fexecve syscall ptrace prctl kill killpg tkill tgkill raise signal sigaction
sigset bsd_signal sysv_signal __sysv_signal sigprocmask pthread_sigmask setjmp _setjmp __sigsetjmp
sigsetjmp longjmp _longjmp siglongjmp __longjmp_chk dlopen dlmopen dlsym dlvsym dladdr getppid
setuid seteuid setreuid setresuid setgid setegid setregid setresgid setsid setpgid setpgrp chmod
fchmod fchmodat chown fchown lchown pthread_create pthread_atfork __libc_start_main mprotect
popen pclose train_plot_csv"
# Harmless anywhere: arithmetic, memory, strings, printing to the streams a test has.
safe="malloc calloc realloc free aligned_alloc posix_memalign memcpy memmove memset memcmp memchr
strlen strnlen strcmp strncmp strchr strrchr strstr strcpy strncpy strcat strncat strdup strndup
strspn strcspn strtol strtoll strtoul strtoull strtod strtof atoi atol atof abs labs llabs qsort bsearch
printf fprintf vprintf vfprintf puts fputs fputc putc putchar fflush snprintf vsnprintf sprintf
fwrite stdout stderr __errno_location __ctype_b_loc __ctype_tolower_loc __ctype_toupper_loc
__assert_fail __stack_chk_fail _GLOBAL_OFFSET_TABLE_ __tls_get_addr
sqrt sqrtf exp expf exp2 exp2f expm1 expm1f log logf log2 log2f log10 log10f log1p log1pf pow powf
fabs fabsf floor floorf ceil ceilf round roundf lround lroundf llround rint rintf lrint lrintf
nearbyint nearbyintf trunc truncf fmod fmodf remainder remainderf modf modff frexp frexpf ldexp ldexpf
sin sinf cos cosf tan tanf asin asinf acos acosf atan atanf atan2 atan2f sinh sinhf cosh coshf tanh
tanhf asinh acosh atanh erf erff erfc erfcf tgamma lgamma hypot hypotf cbrt cbrtf fmax fmaxf fmin
fminf fma fmaf copysign copysignf nextafter nextafterf"

# sym_list OBJ FILTER: the object's symbols (nm -P) of the given kinds, one per line.
defined_globals() { nm -P "$@" 2>/dev/null | awk '$2 ~ /^[TDBRCGSVWiu]$/ { print $1 }' | sort -u; }
undefined() { nm -P "$@" 2>/dev/null | awk '$2 ~ /^[Uwv]$/ { print $1 }' | sort -u; }

# odd_sections OBJ: the first section of OBJ that the compiler does not make of C (gcc's
# and clang's: code, data, read-only data, thread-local data, debugging information,
# unwind tables; and the relocations of those), or the stack note if it asks for an
# executable stack (which GCC's nested functions, an extension, would); empty if none.
# The linker and the loader act on a section by its name: .init's code runs before main,
# .init_array's pointers are called, .rela.* of a loaded segment are relocations applied.
odd_sections() {
    readelf -SW "$1" 2>/dev/null | awk '
        /^ *\[ *[1-9][0-9]*\]/ {
            sub(/^ *\[ *[0-9]+\] */, "")
            name = $1; type = $2; flags = (NF == 10) ? $7 : ""
            if (name == ".note.GNU-stack") { note = 1; if (flags ~ /X/) { print name " (an executable stack)"; exit } ; next }
            base = name
            if (type == "RELA" || type == "REL") sub(/^\.rela?/, "", base)
            else if (base ~ /^\.text(\.|$)/ && (flags !~ /X/ || flags ~ /W/)) {
                # The linker gives an output section the flags of all its inputs: a
                # writable .text.x, or code in .data.x, makes a segment writable and
                # executable, where code written at run time runs.
                print name " (code that is writable, or data among the code)"; exit
            } else if (base !~ /^\.text(\.|$)/ && flags ~ /X/) {
                print name " (machine code outside .text)"; exit
            }
            if (base ~ /^\.(text|data|bss|rodata|tdata|tbss)(\.[A-Za-z0-9_.]+)?$/ ||
                base ~ /^\.debug_[a-z_]+$/ ||
                base ~ /^\.(comment|eh_frame|note\.gnu\.property|llvm_addrsig|group|symtab|strtab|shstrtab|symtab_shndx)$/)
                next
            print name; exit
        }
        END { if (!note && NR > 0) print ".note.GNU-stack (missing: the linker would make the stack executable)" }' | head -n 1
}
# data_in_code OBJ: the first data symbol (an object, not a function) that OBJ places in a
# section of machine code, e.g. a byte array given section(".text"), which can be called
# through a function pointer; empty if none.
data_in_code() {
    readelf -SW "$1" 2>/dev/null | awk '/^ *\[ *[0-9]+\]/ {
            n = $0; sub(/^ *\[ */, "", n); sub(/\].*/, "", n)
            sub(/^ *\[ *[0-9]+\] */, "")
            if (NF == 10 && $7 ~ /X/) print n
        }' >"$tmp/code.sections"
    readelf -sW "$1" 2>/dev/null | awk 'FILENAME == ARGV[1] { code[$1] = 1; next }
        $4 ~ /^(OBJECT|TLS|COMMON)$/ && ($7 in code) { print $8; exit }' "$tmp/code.sections" -
}

if [ "${GRADE_GATE:-on}" != off ]; then
    # The reference's objects of the same files, compiled the same way in this tree's
    # Makefile (from the instructor's sources).
    refobjs=
    for f in $files; do refobjs="$refobjs $refbuild/obj/${f%.c}.o"; done
    # shellcheck disable=SC2086
    (cd "$root" && $make --no-print-directory -j2 BUILD="$refbuild" $cflags_opt $refobjs) \
        >"$tmp/refbuild.log" 2>&1 || {
        cat "$tmp/refbuild.log" >&2
        echo "grade-submission: cannot build the reference's objects of week $week" >&2
        exit 2
    }
    # shellcheck disable=SC2086
    defined_globals $refobjs >"$tmp/ref.defined"
    # shellcheck disable=SC2086
    undefined $refobjs >"$tmp/ref.undefined"
fi
# The libraries (the checks below read them); the suites are linked after the checks.
# shellcheck disable=SC2086
(cd "$tree" && cksum $objs) >"$tmp/objs.sum"
# shellcheck disable=SC2086
build_tree $libs >>"$tmp/build.log" 2>&1 || not_built

if [ "${GRADE_GATE:-on}" != off ]; then
    # shellcheck disable=SC2086
    { defined_globals $libfiles; cat "$tmp/ref.undefined"; printf '%s\n' $safe; } |
        sort -u >"$tmp/allowed"
    printf '%s\n' $deny | sort -u >"$tmp/deny"

    for f in $files; do
        o=$tree/build/obj/${f%.c}.o
        sections=$(readelf -SW "$o" 2>/dev/null | grep -oE '\.(init_array|fini_array|preinit_array|ctors|dtors)[^ ]*' | head -n 1)
        [ -z "$sections" ] ||
            refuse "$f defines a constructor or destructor (its object has a $sections section); submissions may not"
        # Only the sections the compiler itself makes of C: a `section` attribute can put
        # a function into .init (the C library runs .init's code before main, with no
        # constructor section: in the runner's own parent too), machine code written as
        # a byte array into .text, or data into a section the loader acts on.
        odd=$(odd_sections "$o")
        [ -z "$odd" ] ||
            refuse "$f puts code or data in the section $odd, which the compiler never uses for C (a section attribute); submissions may not"
        data=$(data_in_code "$o")
        [ -z "$data" ] ||
            refuse "$f places the data $data among the machine code (a section attribute: data that would run as code); submissions may not"
        ifunc=$(nm -P "$o" | awk '$2 == "i" { print $1; exit }')
        [ -z "$ifunc" ] || refuse "$f defines $ifunc as an indirect function (ifunc); submissions may not"
        extra=$(defined_globals "$o" | comm -23 - "$tmp/ref.defined" | head -n 3 | tr '\n' ' ')
        [ -z "$extra" ] ||
            refuse "$f defines global symbols the course's $f does not: ${extra% }; make helpers static"
        denied=$(undefined "$o" | comm -12 - "$tmp/deny" | head -n 3 | tr '\n' ' ')
        [ -z "$denied" ] ||
            refuse "$f calls ${denied% }; submissions may not use process, signal, jump, exit or loader functions"
        unknown=$(undefined "$o" | comm -23 - "$tmp/allowed" | grep -Ev '^(GOMP_|omp_|cblas_)' |
            head -n 3 | tr '\n' ' ')
        [ -z "$unknown" ] ||
            refuse "$f calls ${unknown% }, which week $week's code has no need of (it may call the course's functions, what the reference's week $week code calls, and the C library's memory, string, printing and math functions)"
    done
fi

# The suites. Nothing is compiled again: the objects checked above are the ones linked.
# shellcheck disable=SC2086
build_tree $bins >>"$tmp/build.log" 2>&1 || not_built
# shellcheck disable=SC2086
(cd "$tree" && cksum $objs) | cmp -s - "$tmp/objs.sum" ||
    refuse "the week's objects changed after they were checked; submissions may not make that happen"

# ----------------------------------------------------------------- grade ---
# The suites run as GRADE_USER (nobody) when this is root; they should not be able to
# read the instructor's tree (the reference, the hidden tests) either.
if [ "$(id -u)" -eq 0 ] && [ "${GRADE_USER:-nobody}" != none ] && id "${GRADE_USER:-nobody}" >/dev/null 2>&1 &&
    setpriv --reuid="${GRADE_USER:-nobody}" --regid="$(id -g "${GRADE_USER:-nobody}")" --clear-groups \
        -- test -r "$root/Makefile" 2>/dev/null; then
    echo "grade-submission: warning: $root is readable by ${GRADE_USER:-nobody}, who runs the" \
        "tests: a submission could read the reference and the hidden tests (chmod 700 $root;" \
        "docs/grading.md, \"Setting up Gradescope\")" >&2
fi
echo "grade-submission: grading week $week..."
(cd "$tree" && RESULTS=$results GRADE_DIR=$gdir GRADE_NO_BUILD=yes \
    MAKE="$make${GRADE_OPT:+ OPT=$GRADE_OPT}" sh tests/harness/grade.sh build "$week")
