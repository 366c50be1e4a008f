/*
 * optim_internal.h - helpers shared by the files of optim/ and never installed.
 */
#ifndef STRATA_OPTIM_INTERNAL_H
#define STRATA_OPTIM_INTERNAL_H

#include "optim.h"

/* Validate the fields the built-in rules read; -1 with an error naming @p fn. */
int optim_check_hparams(const OptimHparams *hp, const char *fn);

/* Format a float so that strtof gives back the same bits ("%.9g"). */
void optim_format_float(char *buf, size_t size, float value);

#endif
