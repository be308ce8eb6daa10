// Loaded once while a pooled runtime waits for its assignment, so that the CommonJS loader's
// code paths are compiled before a function's module is loaded through them.
module.exports = {};
