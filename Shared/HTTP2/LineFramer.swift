/// Splits a byte stream into lines, refusing a line longer than `maximumLineBytes` (so a peer
/// that never sends a newline cannot grow the host's memory without bound).
public struct LineFramer: Sendable {
    /// A line over the limit.
    public struct LineTooLong: Error, Sendable {}

    /// The longest line allowed, in bytes (without its newline).
    public let maximumLineBytes: Int
    private var buffer: [UInt8] = []
    /// Where to resume looking for a newline, so a long line is scanned once, not on every read.
    private var scanned = 0

    /// A framer refusing lines over `maximumLineBytes`.
    public init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// Adds `bytes` and returns the lines they complete (without newlines, empty lines skipped).
    public mutating func append(_ bytes: some Collection<UInt8>) throws(LineTooLong) -> [[UInt8]] {
        self.buffer.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        var start = 0
        var index = self.scanned
        while index < self.buffer.count {
            if self.buffer[index] == UInt8(ascii: "\n") {
                guard index - start <= self.maximumLineBytes else { throw LineTooLong() }
                if index > start { lines.append(Array(self.buffer[start..<index])) }
                start = index + 1
            }
            index += 1
        }
        self.buffer.removeFirst(start)
        self.scanned = self.buffer.count
        guard self.buffer.count <= self.maximumLineBytes else { throw LineTooLong() }
        return lines
    }
}
