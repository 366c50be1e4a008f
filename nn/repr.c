/*
 * repr.c - PyTorch's Module.__repr__, character for character:
 *
 *     Name(extra)                              no children, a one-line extra_repr
 *     Name(\n  extra\n  (child): repr\n)       otherwise; a child's repr has every line
 *                                              after its first indented by two spaces
 *
 * ModuleList compresses runs of equal children: "(0-2): 3 x Linear(...)" (PyTorch 2).
 */
#include "nn_internal.h"

#include <stdio.h>
#include <string.h>

/* SOLUTION BEGIN week=3 step=2 tier=core */
/* Append @p s with every line after the first indented by @p spaces (_addindent). */
static void append_indented(StrataText *text, const char *s, int spaces)
{
    for (const char *p = s; *p; p++) {
        strata_text_printf(text, "%c", *p);
        if (*p == '\n')
            strata_text_printf(text, "%*s", spaces, "");
    }
}

static void repr_into(StrataText *text, const Module *m);

/* ModuleList's repr: runs of identical children are shown once. */
static void list_repr(StrataText *text, const Module *m)
{
    strata_text_printf(text, "%s(", m->type->name);
    if (m->num_children == 0) {
        strata_text_printf(text, ")");
        return;
    }
    char **reprs = strata_calloc((size_t)m->num_children, sizeof *reprs);
    if (!reprs) {
        text->failed = true;
        return;
    }
    for (int i = 0; i < m->num_children; i++)
        reprs[i] = nn_repr(m->children[i].module);
    for (int start = 0; start < m->num_children;) {
        int end = start;
        while (end + 1 < m->num_children && reprs[start] && reprs[end + 1] &&
               strcmp(reprs[start], reprs[end + 1]) == 0)
            end++;
        strata_text_printf(text, "\n  ");
        if (end > start)
            strata_text_printf(text, "(%d-%d): %d x ", start, end, end - start + 1);
        else
            strata_text_printf(text, "(%d): ", start);
        if (reprs[start])
            append_indented(text, reprs[start], 2);
        else
            text->failed = true;
        start = end + 1;
    }
    strata_text_printf(text, "\n)");
    for (int i = 0; i < m->num_children; i++)
        strata_free(reprs[i]);
    strata_free(reprs);
}

/* The general repr of Module.__repr__. */
static void repr_into(StrataText *text, const Module *m)
{
    if (nn_is_module_list(m)) {
        list_repr(text, m); /* ModuleList (not Sequential, which has a forward) */
        return;
    }
    char extra[1024] = "";
    if (m->type->extra_repr)
        m->type->extra_repr(m, extra, sizeof extra);
    strata_text_printf(text, "%s(", m->type->name);
    if (m->num_children == 0 && !strchr(extra, '\n')) {
        strata_text_printf(text, "%s)", extra); /* one line */
        return;
    }
    if (extra[0]) {
        strata_text_printf(text, "\n  ");
        append_indented(text, extra, 2);
    }
    for (int i = 0; i < m->num_children; i++) {
        strata_text_printf(text, "\n  (%s): ", m->children[i].name);
        StrataText child = {0};
        repr_into(&child, m->children[i].module);
        if (child.failed)
            text->failed = true;
        else
            append_indented(text, child.data, 2);
        strata_text_clear(&child);
    }
    strata_text_printf(text, "\n)");
}
/* SOLUTION END */

char *nn_repr(const Module *m)
{
    STRATA_CHECK_ARG(m, NULL);
    /* SOLUTION BEGIN week=3 step=2 tier=core fail=NULL */
    StrataText text = {0};
    repr_into(&text, m);
    return strata_text_finish(&text, __func__); /* NULL + "nn_repr: out of memory" */
    /* SOLUTION END */
}

int nn_fprint(FILE *stream, const Module *m)
{
    STRATA_CHECK_ARG(stream, -1);
    char *s = nn_repr(m);
    if (!s)
        return -1;
    int status = fprintf(stream, "%s\n", s) < 0 ? -1 : 0;
    strata_free(s);
    return status;
}
