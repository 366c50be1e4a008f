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
static void append_indented(NnText *text, const char *s, int spaces)
{
    for (const char *p = s; *p; p++) {
        nn_text_append(text, "%c", *p);
        if (*p == '\n')
            nn_text_append(text, "%*s", spaces, "");
    }
}

static void repr_into(NnText *text, const Module *m);

/* ModuleList's repr: runs of identical children are shown once. */
static void list_repr(NnText *text, const Module *m)
{
    nn_text_append(text, "%s(", m->type->name);
    if (m->num_children == 0) {
        nn_text_append(text, ")");
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
        nn_text_append(text, "\n  ");
        if (end > start)
            nn_text_append(text, "(%d-%d): %d x ", start, end, end - start + 1);
        else
            nn_text_append(text, "(%d): ", start);
        if (reprs[start])
            append_indented(text, reprs[start], 2);
        else
            text->failed = true;
        start = end + 1;
    }
    nn_text_append(text, "\n)");
    for (int i = 0; i < m->num_children; i++)
        strata_free(reprs[i]);
    strata_free(reprs);
}

/* The general repr of Module.__repr__. */
static void repr_into(NnText *text, const Module *m)
{
    if (nn_is_module_list(m)) {
        list_repr(text, m); /* ModuleList (not Sequential, which has a forward) */
        return;
    }
    char extra[1024] = "";
    if (m->type->extra_repr)
        m->type->extra_repr(m, extra, sizeof extra);
    nn_text_append(text, "%s(", m->type->name);
    if (m->num_children == 0 && !strchr(extra, '\n')) {
        nn_text_append(text, "%s)", extra); /* one line */
        return;
    }
    if (extra[0]) {
        nn_text_append(text, "\n  ");
        append_indented(text, extra, 2);
    }
    for (int i = 0; i < m->num_children; i++) {
        nn_text_append(text, "\n  (%s): ", m->children[i].name);
        NnText child = {0};
        repr_into(&child, m->children[i].module);
        if (child.failed)
            text->failed = true;
        else
            append_indented(text, child.data, 2);
        strata_free(child.data);
    }
    nn_text_append(text, "\n)");
}
/* SOLUTION END */

char *nn_repr(const Module *m)
{
    if (!m) {
        strata_error_null(__func__, "m");
        return NULL;
    }
    /* SOLUTION BEGIN week=3 step=2 tier=core fail=NULL */
    NnText text = {0};
    repr_into(&text, m);
    if (text.failed) {
        strata_free(text.data);
        strata_set_error("nn_repr: out of memory");
        return NULL;
    }
    return text.data;
    /* SOLUTION END */
}

int nn_fprint(FILE *stream, const Module *m)
{
    if (!stream) {
        strata_error_null(__func__, "stream");
        return -1;
    }
    char *s = nn_repr(m);
    if (!s)
        return -1;
    int status = fprintf(stream, "%s\n", s) < 0 ? -1 : 0;
    strata_free(s);
    return status;
}
