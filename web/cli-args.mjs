// Command-line options for the Node drivers (node-run.mjs, browser-check.mjs, browser-bench.mjs).

/** Remove `name value` from `args` (in place) and return the value, or `dflt` when absent. */
export function takeOption(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}
