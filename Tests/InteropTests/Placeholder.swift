// Placeholder until the target has content; delete when adding the first file.
