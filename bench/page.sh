# bench/page.sh: row o's page, made alike by compare.sh and instructions.sh (sourced).

# row_o_page FILE: about 100 KiB of HTML table rows, which gzip at level 5 takes to about a
# fifth.
row_o_page() {
  {
    printf '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>rows</title></head><body><table>\n'
    for ((i = 1; i <= 2300; i++)); do
      printf '<tr><td>row %d </td><td>%08x</td></tr>\n' "$i" $((i * 2654435761 % 4294967296))
    done
    printf '</table></body></html>\n'
  } >"$1"
}
