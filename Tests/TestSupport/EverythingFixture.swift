public import SkyportProto

/// `skyport.testing.v1.Everything` with every field set to an extreme value: the message the generated
/// code (ProtoTests) and the dynamic JSON codec (ReflectionTests) both round-trip.
public enum EverythingFixture {
    public typealias Everything = Skyport_Testing_V1_Everything

    /// An `Inner` with `label` and `values`.
    public static func inner(_ label: String, _ values: [UInt32]) -> Everything.Inner {
        var inner = Everything.Inner()
        inner.label = label
        inner.values = values
        return inner
    }

    /// Every field set: minimum and maximum integers, non-ASCII text, unknown enum values, maps with
    /// empty and negative keys, a oneof, and fields named after Swift keywords.
    public static func full() -> Everything {
        var message = Everything()
        message.int32Value = .min
        message.int64Value = .min
        message.uint32Value = .max
        message.uint64Value = .max
        message.sint32Value = -123_456
        message.sint64Value = .min
        message.fixed32Value = 0xdead_beef
        message.fixed64Value = .max
        message.sfixed32Value = -1
        message.sfixed64Value = .min
        message.boolValue = true
        message.floatValue = 1.5
        message.doubleValue = -0.25
        message.stringValue = "héllo, 世界"
        message.bytesValue = [0, 0xff, 0x80]
        message.color = .green
        message.inner = Self.inner("inner", [1, 2, .max])
        message.repeatedInt64 = [0, -1, .max, .min]
        message.repeatedInner = [Self.inner("a", []), Everything.Inner(), Self.inner("c", [3])]
        message.repeatedString = ["", "x", "yz"]
        message.repeatedBytes = [[], [1], [2, 3]]
        message.repeatedColor = [.red, .negative, .unspecified, .unrecognized(77)]
        message.repeatedBool = [true, false, true]
        message.counts = ["a": 1, "b": -2, "": 0]
        message.innersById = [7: Self.inner("seven", [7]), -1: Everything.Inner()]
        message.flags = [true: "yes", false: "no"]
        message.colorsById = [0: .red, .max: .negative]
        message.choice = .choiceInner(Self.inner("chosen", [9]))
        message.protocol = "keyword"
        message.default = 42
        return message
    }
}
