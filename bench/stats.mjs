// Summaries shared by the benchmark drivers (bench/ab.mjs, bench/peer/compare.mjs): median and range
// of a list of measurements, and their one-cell text form.

// { median, min, max } of the finite numbers in `values`; null when there are none.
export function spread(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return { median: v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2, min: v[0], max: v[v.length - 1] };
}

// "median [min, max]" (just the median when all values are equal), or "n/a".
export function fmt(s, digits = 2) {
  if (!s) return "n/a";
  const f = (x) => x.toFixed(digits);
  return s.min === s.max ? f(s.median) : `${f(s.median)} [${f(s.min)}, ${f(s.max)}]`;
}
