// Loaded once, as a function's handler is, while a pooled runtime waits for its assignment (see
// warm-up.cjs): a CommonJS .js module in a directory of its own with its own package.json.
exports.handler = async () => ({});
