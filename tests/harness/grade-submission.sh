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
#     model"): it must be a plain file of reasonable size; it may include only the
#     course's layer headers and system headers; no inline assembly; and once compiled,
#     its object may have no constructor or destructor sections, no ifunc, define no
#     global symbol the reference's file does not, and call only what the reference's
#     own objects of the week call, the course's libraries, and a short list of harmless
#     C library functions; never a process, signal, jump or loader function.
#  4. A refused submission gets a valid results.json with every test at 0 and the
#     reason in plain words; otherwise tests/harness/grade.sh grades the week (public
#     and hidden suites, valgrind items) in the copy, the suites running as an
#     unprivileged user when this runs as root.
#
# Environment: MAKE; GRADE_HANDOUT=dir (a handout of WEEK already cut from this tree,
# possibly built: copied instead of cutting a new one; the self-test shares one);
# GRADE_REFBUILD=dir (where the reference's objects of the week are built; reused when
# given); GRADE_OPT (compiler optimization, default the Makefile's); GRADE_VALGRIND,
# VALGRIND_POINTS, GRADE_USER as for grade.sh; GRADE_GATE=off skips step 3 (only for the
# self-test, to show the run-time defenses hold on their own); GRADE_KEEP=yes keeps the
# temporary folder.
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
submission=$(cd "$submission" && pwd)

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

# refuse REASON: every test of the week at 0, with REASON; results.json still valid.
refuse() {
    echo "grade-submission: refused: $1"
    names=
    for s in $(printf '%s\n' "$suites" | cut -d' ' -f1); do
        src=$(printf '%s\n' "$suites" | awk -v n="$s" '$1 == n { print $2 }')
        list_from_sources "$root/$src" >"$gdir/$s.list"
        printf 'the submission was refused before any test ran: %s\n' "$1" >"$gdir/$s.refused"
        if [ "${GRADE_VALGRIND:-yes}" = no ]; then
            echo skipped >"$gdir/$s.valgrind"
        else
            printf 'failed\nnot run: the submission was refused\n' >"$gdir/$s.valgrind"
        fi
        names="$names $s"
    done
    # shellcheck disable=SC2086
    "$tool" --strict --dir "$gdir" --out "$results" --valgrind-points "${VALGRIND_POINTS:-5}" \
        --time "$(($(date +%s) - start))" $names
    exit 0
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
    size=$(wc -c <"$from")
    [ "$size" -le "$max_bytes" ] || refuse "$f is $size bytes; the limit is $max_bytes"
    # cmp: a file identical to the handout's keeps its time stamp (and its object).
    cmp -s "$from" "$tree/$f" || cat "$from" >"$tree/$f" || refuse "$f cannot be read"
done
[ -z "$notes" ] || echo "grade-submission: not in the submission, graded as handed out:$notes"

cflags_opt=${GRADE_OPT:+OPT=$GRADE_OPT}
objs=
for f in $files; do objs="$objs build/obj/${f%.c}.o"; done

# ------------------------------------------------------- the source checks ---
if [ "${GRADE_GATE:-on}" != off ]; then
    # Includes: only the course's headers (found in the layer folders of the
    # instructor's tree) and system headers (-MM leaves those out).
    # A layer's include path is its folder and its subfolders (optim/data, ...), as
    # the Makefile builds it.
    inc=
    for l in $layers; do
        for dir in $(cd "$tree" && find "$l" -type d | sort); do
            inc="$inc -I$dir"
        done
        [ "$l" = "$layer" ] && break
    done
    for f in $files; do
        # shellcheck disable=SC2086
        deps=$(cd "$tree" && ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
            -fopenmp-simd $inc -MM -MG -MT x "$f" 2>"$tmp/mm.err") || {
            # Let the compiler's own message reach the student through the build.
            continue
        }
        for d in $(printf '%s\n' "$deps" | sed -e 's/^x://' -e 's/\\$//'); do
            [ "$d" = "$f" ] && continue
            # Where it really is (no ".." or link tricks): a system header, or a
            # header of a layer folder that the instructor's tree has too.
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
            [ $ok = yes ] || refuse "$f includes $d; a submission may include only the course's headers and system headers"
        done
        # Inline assembly, even behind a macro: the preprocessed lines of the file itself.
        # shellcheck disable=SC2086
        (cd "$tree" && ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
            -fopenmp-simd $inc -E "$f" 2>/dev/null) | awk -v f="$f" '
            /^# [0-9]+ "/ { split($0, p, "\""); mine = (p[2] == f); next }
            mine' >"$tmp/pp.c"
        if grep -Eq '(^|[^A-Za-z0-9_])(asm|__asm|__asm__)([^A-Za-z0-9_]|$)' "$tmp/pp.c"; then
            refuse "$f contains inline assembly; submissions may not"
        fi
    done
fi

# --------------------------------------------------------------- build ---
# The libraries up to the week's layer; a compile error is graded (0, with the
# compiler's message) by grade.sh below, so it does not stop here.
# shellcheck disable=SC2086
built=yes
(cd "$tree" && $make --no-print-directory -j2 BUILD=build $cflags_opt $objs) \
    >"$tmp/build.log" 2>&1 || built=no

# ------------------------------------------------------- the object checks ---
# Never, whatever the reference does: processes, signals, non-local jumps, the loader,
# exit paths, privileges.
deny="_exit _Exit exit quick_exit at_quick_exit atexit on_exit __cxa_atexit __cxa_thread_atexit_impl
fork vfork clone clone3 __clone posix_spawn posix_spawnp system execl execlp execle execv execvp
execvpe execve execveat fexecve syscall ptrace prctl kill killpg tkill tgkill raise signal sigaction
sigset bsd_signal sysv_signal __sysv_signal sigprocmask pthread_sigmask setjmp _setjmp __sigsetjmp
sigsetjmp longjmp _longjmp siglongjmp __longjmp_chk dlopen dlmopen dlsym dlvsym dladdr getppid
setuid seteuid setreuid setresuid setgid setegid setregid setresgid setsid setpgid setpgrp chmod
fchmod fchmodat chown fchown lchown pthread_create pthread_atfork __libc_start_main mprotect"
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

if [ "${GRADE_GATE:-on}" != off ] && [ $built = yes ]; then
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
    # What the course's libraries up to the week's layer define (reference code below
    # the week, the handout elsewhere in the layer).
    libs=
    libfiles=
    for l in $layers; do
        libs="$libs lib-$l"
        libfiles="$libfiles $tree/build/lib/libstrata_$l.a"
        [ "$l" = "$layer" ] && break
    done
    # shellcheck disable=SC2086
    (cd "$tree" && $make --no-print-directory -j2 BUILD=build $cflags_opt $libs) \
        >>"$tmp/build.log" 2>&1 || built=no
    # shellcheck disable=SC2086
    { defined_globals $libfiles; cat "$tmp/ref.undefined"; printf '%s\n' $safe; } |
        sort -u >"$tmp/allowed"
    printf '%s\n' $deny | sort -u >"$tmp/deny"

    for f in $files; do
        o=$tree/build/obj/${f%.c}.o
        [ -f "$o" ] || continue
        sections=$(readelf -SW "$o" 2>/dev/null | grep -oE '\.(init_array|fini_array|preinit_array|ctors|dtors)[^ ]*' | head -n 1)
        [ -z "$sections" ] ||
            refuse "$f defines a constructor or destructor (its object has a $sections section); submissions may not"
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
(cd "$tree" && RESULTS=$results GRADE_DIR=$gdir MAKE="$make${GRADE_OPT:+ OPT=$GRADE_OPT}" \
    sh tests/harness/grade.sh build "$week")
