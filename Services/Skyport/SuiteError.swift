/// `skyport up`, `down` or `status` could not do its work; the message says what and where to look.
/// (Usage errors are ArgumentParser's `ValidationError`.)
struct SuiteError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
