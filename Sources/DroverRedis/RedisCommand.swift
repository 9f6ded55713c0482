import NIOCore

/// A value that can be sent as one bulk-string argument of a Redis command.
public protocol RedisArgument: Sendable {
    /// Appends the argument's bytes (without RESP framing) to `buffer`.
    func writeBytes(to buffer: inout ByteBuffer)
    /// The argument's length in bytes.
    var byteCount: Int { get }
}

extension String: RedisArgument {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeString(self) }
    public var byteCount: Int { utf8.count }
}

extension Substring: RedisArgument {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeSubstring(self) }
    public var byteCount: Int { utf8.count }
}

extension Int: RedisArgument {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
    public var byteCount: Int { String(self).utf8.count }
}

extension Int64: RedisArgument {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
    public var byteCount: Int { String(self).utf8.count }
}

extension Double: RedisArgument {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
    public var byteCount: Int { String(self).utf8.count }
}

extension Array: RedisArgument where Element == UInt8 {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeBytes(self) }
    public var byteCount: Int { count }
}

extension ByteBuffer: RedisArgument {
    public func writeBytes(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(self) }
    public var byteCount: Int { readableBytes }
}

/// One Redis command, already encoded as a RESP array of bulk strings.
///
/// Encoding happens where the command is built, on the caller's thread, so the event loop
/// only copies finished bytes into its write buffer. Arguments are binary-safe.
///
/// Under Redis Cluster a command runs on the node that owns the slot of its key: the first
/// argument, the first key of `FCALL`/`EVAL`, the second argument of `MEMORY`/`OBJECT`, and
/// no key at all for server commands such as `TIME`, `PUBLISH` or `CLIENT`, which any node
/// runs. ``pinned(toSlotOf:)`` sends a command to a chosen key's node instead (a `WAIT` after
/// a write, a `CLIENT ID` before a blocking fetch). Command names are given in upper case.
public struct RedisCommand: Sendable {
    /// The command name, kept for error messages and logs (arguments may hold secrets).
    public let name: String
    /// The RESP bytes of the whole command.
    public let bytes: ByteBuffer
    /// A key whose slot replaces the command's own (see ``pinned(toSlotOf:)``).
    private var pinnedKey: String?

    public init(_ name: String, _ arguments: [any RedisArgument] = []) {
        self.name = name
        var buffer = ByteBufferAllocator().buffer(capacity: 32 + arguments.count * 24)
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count + 1))
        buffer.writeStaticString("\r\n")
        Self.writeBulk(name, to: &buffer)
        for argument in arguments {
            Self.writeBulk(argument, to: &buffer)
        }
        self.bytes = buffer
    }

    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments)
    }

    /// The same command, sent to the cluster node that owns `key`'s slot.
    public func pinned(toSlotOf key: String) -> RedisCommand {
        var command = self
        command.pinnedKey = key
        return command
    }

    /// The same command, sent to the node `other` goes to.
    public func pinned(like other: RedisCommand) -> RedisCommand {
        var command = self
        command.pinnedKey = other.pinnedKey ?? other.key.map { String(decoding: $0, as: UTF8.self) }
        return command
    }

    /// Whether ``pinned(toSlotOf:)`` chose its node: a command that follows another there.
    var isPinned: Bool { pinnedKey != nil }

    /// The cluster slot this command runs in; `nil` when any node may run it.
    public var slot: Int? {
        if let pinnedKey { return ClusterSlot.of(pinnedKey.utf8) }
        return key.map(ClusterSlot.of)
    }

    /// The bytes of the key that picks the slot, found in the encoded command only when a
    /// cluster asks (one server never does): the first argument, `FCALL`'s first declared key,
    /// the second argument of `MEMORY` and `OBJECT`, none for a command that names no key.
    private var key: ByteBufferView.SubSequence? {
        let arguments = self.arguments
        guard !arguments.isEmpty else { return nil }
        let view = bytes.readableBytesView
        switch name {
        case "FCALL", "FCALL_RO", "EVAL", "EVALSHA":
            guard arguments.count > 2, Self.decimal(view[arguments[1]]) ?? 0 > 0 else { return nil }
            return view[arguments[2]]
        case "MEMORY", "OBJECT":
            return arguments.count > 1 ? view[arguments[1]] : nil
        default:
            return Self.keyless.contains(name) ? nil : view[arguments[0]]
        }
    }

    /// Where each argument after the name lies in `bytes`, read back from the RESP this
    /// type wrote: `*<n>\r\n`, then `$<length>\r\n<bytes>\r\n` for the name and each argument.
    private var arguments: [Range<Int>] {
        let view = bytes.readableBytesView
        var i = view.startIndex
        /// The number after a `*` or `$`, and `i` moved past its line.
        func header() -> Int {
            i = view.index(after: i)
            let end = view[i...].firstIndex(of: UInt8(ascii: "\r")) ?? view.endIndex
            defer { i = end + 2 }
            return Self.decimal(view[i..<end]) ?? 0
        }
        let count = header()
        var ranges: [Range<Int>] = []
        for n in 0..<count {
            let length = header()
            if n > 0 { ranges.append(i..<(i + length)) }
            i += length + 2
        }
        return ranges
    }

    private static func decimal(_ digits: ByteBufferView.SubSequence) -> Int? {
        Int(String(decoding: digits, as: UTF8.self))
    }

    /// Commands that name no key: any cluster node runs them.
    private static let keyless: Set<String> = [
        "ASKING", "AUTH", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DBSIZE", "DEBUG", "ECHO", "FLUSHALL", "FLUSHDB",
        "FUNCTION", "HELLO", "INFO", "LATENCY", "PING", "PUBLISH", "QUIT", "READONLY", "READWRITE", "ROLE", "SCAN",
        "SCRIPT", "SELECT", "SENTINEL", "SLOWLOG", "SUBSCRIBE", "TIME", "UNSUBSCRIBE", "WAIT",
    ]

    private static func writeBulk(_ argument: any RedisArgument, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("$")
        buffer.writeString(String(argument.byteCount))
        buffer.writeStaticString("\r\n")
        argument.writeBytes(to: &buffer)
        buffer.writeStaticString("\r\n")
    }
}

/// Redis Cluster's key → slot mapping: CRC16 (XMODEM) of the key, or of its hash tag (the
/// text between the first `{` and the next `}`, when not empty), modulo 16,384.
public enum ClusterSlot {
    /// How many slots a Redis Cluster has.
    public static let count = 16384

    /// The slot of `key` (its bytes).
    public static func of<Bytes: Collection>(_ key: Bytes) -> Int where Bytes.Element == UInt8 {
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = key.index(after: open)
            if let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen {
                return Int(crc16(key[afterOpen..<close]) & 0x3FFF)
            }
        }
        return Int(crc16(key) & 0x3FFF)
    }

    static func crc16<Bytes: Collection>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { n in
        var crc = UInt16(n) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
