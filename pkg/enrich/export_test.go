package enrich

// OpenIndexForTest exposes openIndex to the external tests.
func OpenIndexForTest(b []byte) (*Index, error) { return openIndex(b) }
