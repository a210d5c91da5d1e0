import Foundation

/// A JSON value for replies, written with keys in the order given (one line, no spaces).
/// Our own writer, because JSONSerialization neither keeps key order nor accepts every Double.
indirect enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .uint(let value): return String(value)
        case .double(let value):
            // Swift's shortest round-trip form ("1.5", "-3.0e-05") is valid JSON; non-finite is not.
            return value.isFinite ? "\(value)" : "null"
        case .string(let value): return JSON.quote(value)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { JSON.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    private static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Helpers that read one field of a parsed request (JSONSerialization output) strictly:
/// a JSON integer is an NSNumber that is neither a boolean nor a floating-point number.
enum JSONField {
    static func integer(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
        if isBoolean(number) || isFloatingPoint(number) { return nil }
        return number.intValue
    }

    static func isBool(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return isBoolean(number)
    }

    #if canImport(Darwin)
        private static func isBoolean(_ number: NSNumber) -> Bool { CFGetTypeID(number) == CFBooleanGetTypeID() }
        private static func isFloatingPoint(_ number: NSNumber) -> Bool { CFNumberIsFloatType(number as CFNumber) }
    #else
        // swift-corelibs-foundation has no CFGetTypeID/CFNumberIsFloatType. Its JSONSerialization
        // (Swift 6.0) gives true/false as a boolean NSNumber of type "c" (JSON has no char),
        // integers as "i" or "q", other numbers as "d" (checked on Linux x86-64 with Swift 6.0.3).
        private static func objCType(_ number: NSNumber) -> String { String(cString: number.objCType) }
        private static func isBoolean(_ number: NSNumber) -> Bool { ["c", "B"].contains(objCType(number)) }
        private static func isFloatingPoint(_ number: NSNumber) -> Bool { ["f", "d"].contains(objCType(number)) }
    #endif
}
