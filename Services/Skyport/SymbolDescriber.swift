import Foundation
import SkyportReflection

/// Shows a service, method, message or enum from a descriptor pool in `.proto`-like text.
struct SymbolDescriber {
    let pool: DescriptorPool

    func describe(_ name: String) throws -> String {
        switch self.pool.symbol(named: name) {
        case .service(let service)?:
            return "\(service.fullName) is a service:\n" + self.service(service)
        case .method(let method)?:
            var text = "\(method.fullName) is a method:\n" + self.rpc(method) + "\n"
            for type in [method.inputType, method.outputType] {
                if case .message(let message)? = self.pool.resolve(type, scope: method.serviceName)?.symbol {
                    text += "\n" + self.message(message, indent: "")
                }
            }
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        case .message(let message)?:
            return "\(message.fullName) is a message:\n" + self.message(message, indent: "")
        case .enumType(let enumType)?:
            return "\(enumType.fullName) is an enum:\n" + self.enumType(enumType, indent: "")
        case nil:
            throw CallFailure.badInput("the server does not know the symbol '\(name)'")
        }
    }

    private func service(_ service: ServiceDescriptor) -> String {
        "service \(service.name) {\n" + service.methods.map { "  " + self.rpc($0) + "\n" }.joined() + "}"
    }

    private func rpc(_ method: ServiceDescriptor.Method) -> String {
        let input = self.typeName(method.inputType, scope: method.serviceName)
        let output = self.typeName(method.outputType, scope: method.serviceName)
        return "rpc \(method.name)(\(method.clientStreaming ? "stream " : "")\(input)) returns "
            + "(\(method.serverStreaming ? "stream " : "")\(output));"
    }

    private func message(_ message: MessageDescriptor, indent: String) -> String {
        var lines = ["\(indent)message \(message.name) {"]
        var printedOneofs: Set<Int> = []
        for field in message.fields {
            if let oneof = field.oneofIndex, !field.isProto3Optional {
                guard printedOneofs.insert(oneof).inserted else { continue }
                lines.append("\(indent)  oneof \(message.oneofNames[oneof]) {")
                for member in message.fields where member.oneofIndex == oneof {
                    lines.append("\(indent)    " + self.field(member, in: message))
                }
                lines.append("\(indent)  }")
            } else {
                lines.append("\(indent)  " + self.field(field, in: message))
            }
        }
        for nested in message.nestedTypes where !nested.isMapEntry {
            lines.append(self.message(nested, indent: indent + "  "))
        }
        for enumType in message.enumTypes {
            lines.append(self.enumType(enumType, indent: indent + "  "))
        }
        lines.append("\(indent)}")
        return lines.joined(separator: "\n")
    }

    private func field(_ field: FieldDescriptor, in message: MessageDescriptor) -> String {
        var type: String
        switch field.type {
        case .message, .enum, .group: type = self.typeName(field.typeName, scope: message.fullName)
        default: type = field.type.description
        }
        var label = field.isProto3Optional || (field.label == .optional && message.syntax == .proto2) ? "optional " : ""
        if field.label == .required { label = "required " }
        if field.isRepeated {
            label = "repeated "
            if case .message(let entry)? = self.pool.resolve(field.typeName, scope: message.fullName)?.symbol,
                entry.isMapEntry, let key = entry.field(number: 1), let value = entry.field(number: 2)
            {
                label = ""
                let valueType =
                    value.type == .message || value.type == .enum
                    ? self.typeName(value.typeName, scope: entry.fullName) : value.type.description
                type = "map<\(key.type), \(valueType)>"
            }
        }
        let json = field.jsonName == field.name ? "" : "  // JSON: \(field.jsonName)"
        return "\(label)\(type) \(field.name) = \(field.number);\(json)"
    }

    private func enumType(_ enumType: EnumDescriptor, indent: String) -> String {
        (["\(indent)enum \(enumType.name) {"] + enumType.values.map { "\(indent)  \($0.name) = \($0.number);" }
            + ["\(indent)}"]).joined(separator: "\n")
    }

    /// The fully-qualified name a descriptor's type reference resolves to (as written when it does not).
    private func typeName(_ name: String, scope: String) -> String {
        self.pool.resolve(name, scope: scope)?.name ?? name
    }
}
