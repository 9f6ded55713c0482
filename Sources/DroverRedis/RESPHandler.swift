import CHiredis
import NIOCore

/// A command on its way to the socket, with the promise its reply completes.
struct RedisRequest {
    var command: RedisCommand
    var promise: EventLoopPromise<RESPValue>
    var timeout: Duration
    var deadline: NIODeadline

    init(command: RedisCommand, promise: EventLoopPromise<RESPValue>, timeout: Duration) {
        self.command = command
        self.promise = promise
        self.timeout = timeout
        self.deadline = .now() + TimeAmount(timeout)
    }
}

/// The channel handler behind every Drover Redis connection.
///
/// Commands arrive already encoded; replies are parsed by hiredis's RESP reader (hiredis is
/// used purely as a parser here and never touches the socket) and completed in FIFO order,
/// which is what lets any number of commands be in flight on one connection.
///
/// Writes made during one event-loop tick are gathered into one buffer and flushed once at
/// the end of the tick, so many tasks sending one command each still share a syscall.
///
/// Not Sendable: it owns a `redisReader*` and lives on its channel's event loop.
final class RESPHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private let reader: UnsafeMutablePointer<redisReader>
    private var pending = CircularBuffer<RedisRequest>(initialCapacity: 64)
    private var outBuffer: ByteBuffer?
    private var flushScheduled = false
    private var timeoutCheck: Scheduled<Void>?
    private var failure: RedisError?
    /// Pub/sub messages (`message`, `pmessage`) go here instead of to a pending request.
    private let onPush: (@Sendable (RESPValue) -> Void)?

    init(onPush: (@Sendable (RESPValue) -> Void)? = nil) {
        guard let reader = redisReaderCreate() else {
            // redisReaderCreate fails only when malloc does.
            fatalError("hiredis could not allocate a RESP reader: out of memory")
        }
        self.reader = reader
        self.onPush = onPush
    }

    deinit { redisReaderFree(reader) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let fed = buffer.withUnsafeReadableBytes { raw in
            redisReaderFeed(reader, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard fed == REDIS_OK else {
            return fail(context, .protocolError(readerError()))
        }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                // After a protocol error the reader cannot resynchronise: drop the connection.
                return fail(context, .protocolError(readerError()))
            }
            guard let raw else { break }
            let value = RESPValue(reply: raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            if let onPush, Self.isPush(value) {
                onPush(value)
            } else if let request = pending.popFirst() {
                request.promise.succeed(value)
            } else if case .error(let message) = value {
                // Redis refusing the connection outright (protected mode, too many clients).
                return fail(context, .connectionFailed("Redis refused the connection: \(message)"))
            } else {
                return fail(context, .protocolError("a reply arrived that no command asked for"))
            }
        }
    }

    private static func isPush(_ value: RESPValue) -> Bool {
        guard case .array(let items) = value, let kind = items.first?.string else { return false }
        return kind == "message" || kind == "pmessage"
    }

    private func readerError() -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        if outBuffer == nil {
            outBuffer = request.command.bytes
        } else {
            var command = request.command.bytes
            outBuffer!.writeBuffer(&command)
        }
        let wasIdle = pending.isEmpty
        pending.append(request)
        if wasIdle { scheduleTimeoutCheck(context: context, at: request.deadline) }
        promise?.succeed(())
        if outBuffer!.readableBytes >= 64 * 1024 {
            context.write(wrapOutboundOut(outBuffer.take()!), promise: nil)
        }
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.flushScheduled = false
            if let out = handler.outBuffer.take() {
                context.write(handler.wrapOutboundOut(out), promise: nil)
            }
            context.flush()
        }
    }

    /// One timer per connection, armed for the oldest pending command: replies come back in
    /// order, so if the oldest is late the connection is stuck.
    private func scheduleTimeoutCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timeoutCheck?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeoutCheck = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timeoutCheck = nil
            guard let oldest = handler.pending.first else { return }
            if oldest.deadline <= .now() {
                handler.fail(context, .timeout(command: oldest.command.name, after: oldest.timeout))
            } else {
                handler.scheduleTimeoutCheck(context: context, at: oldest.deadline)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, .connectionFailed(String(describing: error)))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: RedisError) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        if failure == nil { failure = error }
        timeoutCheck?.cancel()
        timeoutCheck = nil
        outBuffer = nil
        while let request = pending.popFirst() {
            request.promise.fail(error)
        }
    }
}

@available(*, unavailable)
extension RESPHandler: Sendable {}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}
