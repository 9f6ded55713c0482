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
public struct RedisCommand: Sendable {
    /// The command name, kept for error messages and logs (arguments may hold secrets).
    public let name: String
    /// The RESP bytes of the whole command.
    public let bytes: ByteBuffer

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

    private static func writeBulk(_ argument: any RedisArgument, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("$")
        buffer.writeString(String(argument.byteCount))
        buffer.writeStaticString("\r\n")
        argument.writeBytes(to: &buffer)
        buffer.writeStaticString("\r\n")
    }
}
