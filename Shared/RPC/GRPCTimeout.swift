/// The `grpc-timeout` header: at most 8 ASCII digits followed by a unit
/// (`H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds).
public enum GRPCTimeout {
    /// Parses a header value; `nil` when it is malformed (empty, too many digits, non-digits, unknown unit).
    public static func parse(_ value: some StringProtocol) -> Duration? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9 else { return nil }
        var amount: Int64 = 0
        for c in utf8.dropLast() {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(c - UInt8(ascii: "0"))
        }
        switch utf8.last! {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// Encodes a duration in the finest unit that fits in 8 digits, rounding up so a deadline is never
    /// shortened. Negative durations encode as `0n`.
    public static func encode(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, !(seconds == 0 && attoseconds <= 0) else { return "0n" }
        let maxAmount: Int64 = 99_999_999
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if !nanos.overflow {
            let total = nanos.partialValue + (attoseconds + 999_999_999) / 1_000_000_000
            for (divisor, unit) in [(Int64(1), "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S")] {
                let amount = (total + divisor - 1) / divisor
                if amount <= maxAmount { return "\(amount)\(unit)" }
            }
        }
        let roundedSeconds = seconds + (attoseconds > 0 ? 1 : 0)
        for (divisor, unit) in [(Int64(60), "M"), (3600, "H")] {
            let amount = (roundedSeconds + divisor - 1) / divisor
            if amount <= maxAmount { return "\(amount)\(unit)" }
        }
        return "\(maxAmount)H"
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero.
    public var wholeMilliseconds: Int64 {
        self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
    }
}
