// Imported once while a pooled runtime waits for its assignment (the ES module loader's warm-up).
export default {};
