package weights

// ValidateEntry exposes Entry.validate to the external tests.
var ValidateEntry = (*Entry).validate
