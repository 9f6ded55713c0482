/// A strict JSON reader that keeps values as their exact text.
///
/// Payloads and results pass through Drover untouched: a request's `payload` is stored
/// byte for byte as the client sent it, and handed to the handler the same way, so there is
/// no decoding and re-encoding on the way and no surprise in key order or number formatting.
/// The scanner also bounds nesting depth, so hostile input cannot exhaust the stack.
public enum JSONScanner {
    /// How deeply arrays and objects may nest.
    public static let defaultMaxDepth = 64

    /// Throws unless `text` is exactly one JSON value (surrounding whitespace allowed).
    public static func validate(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONScanError) {
        var scanner = Scanner(bytes: Array(text.utf8), maxDepth: maxDepth)
        try scanner.document()
    }

    /// The fields of a JSON object, each as the exact text of its value.
    /// Throws if `text` is not valid JSON or not an object; a repeated key keeps its last value.
    public static func objectFields(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONScanError) -> [String: String] {
        let bytes = Array(text.utf8)
        var scanner = Scanner(bytes: bytes, maxDepth: maxDepth)
        let members = try scanner.topLevel(expecting: UInt8(ascii: "{"))
        var fields: [String: String] = [:]
        for (key, range) in members {
            fields[key ?? ""] = String(decoding: bytes[range], as: UTF8.self)
        }
        return fields
    }

    /// The elements of a JSON array, each as the exact text of its value.
    public static func arrayElements(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONScanError) -> [String] {
        let bytes = Array(text.utf8)
        var scanner = Scanner(bytes: bytes, maxDepth: maxDepth)
        return try scanner.topLevel(expecting: UInt8(ascii: "[")).map { String(decoding: bytes[$0.1], as: UTF8.self) }
    }

    /// `value` as a JSON string literal.
    public static func quote(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private struct Scanner {
        let bytes: [UInt8]
        let maxDepth: Int
        var position = 0

        init(bytes: [UInt8], maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        mutating func document() throws(JSONScanError) {
            skipWhitespace()
            try value(depth: 0)
            try end()
        }

        /// Scans a top-level array or object and returns its members: (key, value range);
        /// keys are nil for arrays.
        mutating func topLevel(expecting open: UInt8) throws(JSONScanError) -> [(String?, Range<Int>)] {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == open else {
                throw JSONScanError(open == UInt8(ascii: "{") ? "expected a JSON object" : "expected a JSON array", at: position)
            }
            var members: [(String?, Range<Int>)] = []
            try container(depth: 0) { key, range in members.append((key, range)) }
            try end()
            return members
        }

        mutating func end() throws(JSONScanError) {
            skipWhitespace()
            guard position == bytes.count else { throw JSONScanError("unexpected text after the JSON value", at: position) }
        }

        mutating func skipWhitespace() {
            while position < bytes.count,
                bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D || bytes[position] == 0x09
            {
                position += 1
            }
        }

        mutating func value(depth: Int) throws(JSONScanError) {
            guard position < bytes.count else { throw JSONScanError("unexpected end of input", at: position) }
            switch bytes[position] {
            case UInt8(ascii: "{"), UInt8(ascii: "["): try container(depth: depth) { _, _ in }
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw JSONScanError("unexpected character", at: position)
            }
        }

        mutating func container(depth: Int, member: (String?, Range<Int>) -> Void) throws(JSONScanError) {
            guard depth < maxDepth else { throw JSONScanError("nested deeper than \(maxDepth) levels", at: position) }
            let isObject = bytes[position] == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            position += 1
            skipWhitespace()
            if position < bytes.count, bytes[position] == close {
                position += 1
                return
            }
            while true {
                var key: String?
                if isObject {
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                        throw JSONScanError("expected a string key", at: position)
                    }
                    key = try string()
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                        throw JSONScanError("expected ':' after a key", at: position)
                    }
                    position += 1
                }
                skipWhitespace()
                let start = position
                try value(depth: depth + 1)
                member(key, start..<position)
                skipWhitespace()
                guard position < bytes.count else { throw JSONScanError("unexpected end of input", at: position) }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                guard bytes[position] == close else {
                    throw JSONScanError(isObject ? "expected ',' or '}'" : "expected ',' or ']'", at: position)
                }
                position += 1
                return
            }
        }

        /// Scans a string literal and returns its decoded value.
        mutating func string() throws(JSONScanError) -> String {
            position += 1  // the opening quote
            var scalars = String.UnicodeScalarView()
            var runStart = position
            func flush(_ scanner: Scanner, _ start: Int, _ end: Int, into scalars: inout String.UnicodeScalarView) {
                scalars.append(contentsOf: String(decoding: scanner.bytes[start..<end], as: UTF8.self).unicodeScalars)
            }
            while true {
                guard position < bytes.count else { throw JSONScanError("unterminated string", at: position) }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    flush(self, runStart, position, into: &scalars)
                    position += 1
                    return String(scalars)
                }
                if byte < 0x20 { throw JSONScanError("control character in a string", at: position) }
                if byte != UInt8(ascii: "\\") {
                    position += 1
                    continue
                }
                flush(self, runStart, position, into: &scalars)
                position += 1
                guard position < bytes.count else { throw JSONScanError("unterminated escape", at: position) }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                        else {
                            throw JSONScanError("unpaired surrogate", at: position)
                        }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw JSONScanError("unpaired surrogate", at: position) }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw JSONScanError("unpaired surrogate", at: position)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw JSONScanError("invalid \\u escape", at: position) }
                    scalars.append(scalar)
                default:
                    throw JSONScanError("invalid escape", at: position - 1)
                }
                runStart = position
            }
        }

        mutating func hex4() throws(JSONScanError) -> UInt32 {
            guard position + 4 <= bytes.count else { throw JSONScanError("short \\u escape", at: position) }
            var code: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[position]
                let digit: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
                default: throw JSONScanError("invalid \\u escape", at: position)
                }
                code = code << 4 | UInt32(digit)
                position += 1
            }
            return code
        }

        mutating func literal(_ word: StaticString) throws(JSONScanError) {
            let count = word.utf8CodeUnitCount
            guard position + count <= bytes.count else { throw JSONScanError("unexpected end of input", at: position) }
            for i in 0..<count where bytes[position + i] != word.utf8Start[i] {
                throw JSONScanError("unexpected character", at: position + i)
            }
            position += count
        }

        mutating func number() throws(JSONScanError) {
            func digits(_ scanner: inout Scanner) -> Int {
                let start = scanner.position
                while scanner.position < scanner.bytes.count,
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(scanner.bytes[scanner.position])
                {
                    scanner.position += 1
                }
                return scanner.position - start
            }
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count else { throw JSONScanError("unexpected end of input", at: position) }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else if digits(&self) == 0 {
                throw JSONScanError("invalid number", at: position)
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits(&self) > 0 else { throw JSONScanError("invalid number", at: position) }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                guard digits(&self) > 0 else { throw JSONScanError("invalid number", at: position) }
            }
        }
    }
}

/// Why a text is not the JSON expected, with the byte offset where that became clear.
public struct JSONScanError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public let offset: Int

    init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}
