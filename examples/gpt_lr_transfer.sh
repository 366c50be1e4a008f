#!/bin/sh
# gpt_lr_transfer.sh - learning-rate transfer across width for the GPT of hello_gpt, at
# CPU scale: for every width and every power-of-two learning rate, train a fresh GPT
# (same seed, same batches) with dualized descent and with Adam, and record the mean
# training loss of the last 100 steps. Then print each width's best lr and plot.
#
#   sh examples/gpt_lr_transfer.sh [OUT_PREFIX]    # writes OUT_PREFIX.csv and .png
#
# The settings (environment variables, defaults in brackets): WIDTHS [32 64 128 256]
# (d_embed; 4 heads of d_embed/4), BLOCKS [2], CONTEXT [32], BATCH [12], STEPS [200],
# DUALIZED [-4 -3 -2 -1 0] and ADAM [-10 -9 -8 -7 -6 -5] (log2 learning rates), HELLO
# [build/examples/hello_gpt], TEXT [build/data/kjv.txt]. Both optimizers decay the lr
# linearly to 0; dualized descent uses momentum 0.95 as in hello_gpt. Attention scale 1
# (Modula's compound default), as the recorded figure was made.
set -eu
OUT=${1:-gpt_lr_transfer}
WIDTHS=${WIDTHS:-"32 64 128 256"}
BLOCKS=${BLOCKS:-2}
CONTEXT=${CONTEXT:-32}
BATCH=${BATCH:-12}
STEPS=${STEPS:-200}
DUALIZED=${DUALIZED:-"-4 -3 -2 -1 0"}
ADAM=${ADAM:-"-10 -9 -8 -7 -6 -5"}
HELLO=${HELLO:-build/examples/hello_gpt}
TEXT=${TEXT:-build/data/kjv.txt}

[ -f "$OUT.csv" ] || echo "optim,width,log2_lr,train_loss,val_loss,ms_per_step" > "$OUT.csv"
for w in $WIDTHS; do
    for opt in dualized adam; do
        if [ "$opt" = dualized ]; then grid=$DUALIZED; else grid=$ADAM; fi
        for e in $grid; do
            # resume: skip runs already in the CSV
            grep -q "^$opt,$w,$e," "$OUT.csv" && continue
            lr=$(awk "BEGIN { printf \"%.10g\", 2 ^ ($e) }")
            line=$("$HELLO" --optim "$opt" --lr "$lr" --d-embed "$w" --heads 4 \
                --d-query $((w / 4)) --d-value $((w / 4)) --blocks "$BLOCKS" \
                --context "$CONTEXT" --batch "$BATCH" --steps "$STEPS" --threads 1 \
                --attention-scale 1 \
                --val-interval 100000 --val-batches 4 --text "$TEXT" --summary 2>&1 |
                grep '^summary' || echo "summary train=div val=div ms_per_step=0")
            train=$(echo "$line" | sed 's/.* train=\([^ ]*\).*/\1/')
            val=$(echo "$line" | sed 's/.* val=\([^ ]*\).*/\1/')
            ms=$(echo "$line" | sed 's/.* ms_per_step=\([^ ]*\).*/\1/')
            echo "$opt,$w,$e,$train,$val,$ms" >> "$OUT.csv"
            echo "$opt width $w lr 2^$e: train $train val $val ($ms ms/step)"
        done
    done
done

# each width's best lr (lowest training loss), and how far it moves across widths
awk -F, 'NR > 1 && $4 != "div" && $4 != "nan" {
    k = $1 "," $2
    if (!(k in best) || $4 + 0 < best[k]) { best[k] = $4 + 0; arg[k] = $3 }
}
END {
    for (k in arg) { split(k, p, ","); line[p[1]] = line[p[1]] " " p[2] ":2^" arg[k]
        if (!(p[1] in lo) || arg[k] < lo[p[1]]) lo[p[1]] = arg[k]
        if (!(p[1] in hi) || arg[k] > hi[p[1]]) hi[p[1]] = arg[k] }
    for (o in line) printf "%-9s best lr per width:%s  moves by %d grid step(s)\n", o, line[o], hi[o] - lo[o]
}' "$OUT.csv"

if command -v gnuplot > /dev/null 2>&1; then
    plot=""
    for opt in dualized adam; do
        curves=""
        for w in $WIDTHS; do
            curves="$curves${curves:+, }'$OUT.csv' using (strcol(1) eq '$opt' && \$2 == $w ? \$3 : 1/0):(strcol(4) eq 'div' ? 1/0 : \$4) with linespoints title 'width $w'"
        done
        title=$([ "$opt" = dualized ] && echo "dualized descent (momentum 0.95)" || echo "Adam")
        plot="${plot}set title '$title'
plot $curves
"
    done
    gnuplot <<GP
set terminal pngcairo size 960,420 font ',10'
set output '$OUT.png'
set datafile separator ','
set multiplot layout 1,2 title 'GPT ($BLOCKS blocks, context $CONTEXT, batch $BATCH) on the KJV Bible: mean training loss of the last 100 of $STEPS steps'
set xlabel 'log2 learning rate'
set ylabel 'training loss (nats/char)'
set key top right
set grid
set yrange [1.9:3.0]
$plot
unset multiplot
GP
    echo "wrote $OUT.csv and $OUT.png"
fi
