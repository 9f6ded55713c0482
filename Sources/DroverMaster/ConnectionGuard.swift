import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps slow and idle clients from tying up a door: a cap on open connections, a deadline for
/// each request once its first byte has arrived, and a limit on how long a connection may sit
/// idle. A SwiftNIO connection costs no thread, so slow clients cannot starve fast ones of
/// CPU; what they could exhaust is file descriptors, and these limits give them back.
final class ConnectionGuard: Sendable {
    let door: String
    let maxConnections: Int
    /// From the first byte of a request (the TLS handshake included) to the whole of a TCP frame
    /// or of an HTTP request head.
    let requestTimeout: TimeAmount
    /// How long a connection with no request in progress may stay silent.
    let idleTimeout: TimeAmount
    let logger: Logger
    private let open = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)

    init(door: String, limits: MasterLimits, logger: Logger) {
        self.door = door
        self.maxConnections = limits.maxConnections
        self.requestTimeout = TimeAmount(limits.requestTimeout)
        self.idleTimeout = TimeAmount(limits.idleTimeout)
        self.logger = logger
    }

    /// Connections open now.
    var openConnections: Int { open.load(ordering: .relaxed) }

    /// Takes a slot for a new connection, or says no when all are taken.
    func admit() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= maxConnections { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        // One warning per 1,000 refusals: a flood must not flood the log too.
        if refused.wrappingAdd(1, ordering: .relaxed).oldValue % 1000 == 0 {
            logger.warning("refusing connections: the limit is reached", metadata: ["door": "\(door)", "limit": "\(maxConnections)"])
        }
        return false
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}

/// The first handler of every accepted connection; it sees raw bytes.
///
/// A request is "in progress" from its first byte until the protocol handler further down says
/// it has all of it (``requestReceived()``). If that takes longer than the request timeout, the
/// client is too slow (or a slowloris) and the connection is closed. A connection with nothing
/// in progress that stays silent past the idle timeout is closed too, unless the protocol
/// handler says it is still working on an answer (``busy``).
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connectionGuard: ConnectionGuard
    private var admitted = false
    private var requestDeadline: Scheduled<Void>?
    private var idleDeadline: Scheduled<Void>?
    /// When bytes last went either way. Reads and writes only note the time; the one idle
    /// timer looks at it when it fires, so the hot path schedules no timers.
    private var lastActivity = NIODeadline.now()
    /// Between the head and the end of an HTTP request: its body is not under the deadline.
    var readingBody = false
    /// Answers still being worked on; a busy connection is not idle.
    var busy = 0

    init(connectionGuard: ConnectionGuard) {
        self.connectionGuard = connectionGuard
    }

    func channelActive(context: ChannelHandlerContext) {
        guard connectionGuard.admit() else {
            context.close(promise: nil)
            return
        }
        admitted = true
        lastActivity = .now()
        scheduleIdleCheck(context, in: connectionGuard.idleTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if admitted {
            admitted = false
            connectionGuard.release()
        }
        requestDeadline?.cancel()
        idleDeadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted else { return }
        if requestDeadline == nil && !readingBody {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let door = connectionGuard.door
            let logger = connectionGuard.logger
            requestDeadline = context.eventLoop.scheduleTask(in: connectionGuard.requestTimeout) {
                logger.notice(
                    "closing a connection whose request did not arrive in time",
                    metadata: ["door": "\(door)", "remote": "\(loopBound.value.remoteAddress?.description ?? "?")"])
                loopBound.value.close(promise: nil)
            }
        }
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    /// The protocol handler has a whole request: stop its clock.
    func requestReceived() {
        requestDeadline?.cancel()
        requestDeadline = nil
    }

    private func scheduleIdleCheck(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleDeadline = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            let timeout = handler.connectionGuard.idleTimeout
            let silentFor = NIODeadline.now() - handler.lastActivity
            if handler.busy > 0 || handler.requestDeadline != nil {
                handler.scheduleIdleCheck(context, in: timeout)
            } else if silentFor < timeout {
                handler.scheduleIdleCheck(context, in: timeout - silentFor)
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// The guard of the connection `context` belongs to.
    static func of(_ context: ChannelHandlerContext) -> ConnectionGuardHandler? {
        try? context.pipeline.syncOperations.handler(type: ConnectionGuardHandler.self)
    }
}

/// Sits after the HTTP codec and tells the guard where requests begin and end.
final class HTTPRequestProgressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var connectionGuard: ConnectionGuardHandler?

    func handlerAdded(context: ChannelHandlerContext) {
        connectionGuard = ConnectionGuardHandler.of(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            connectionGuard?.requestReceived()
            connectionGuard?.readingBody = true
            connectionGuard?.busy += 1
        case .end:
            connectionGuard?.readingBody = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), let connectionGuard, connectionGuard.busy > 0 { connectionGuard.busy -= 1 }
        context.write(data, promise: promise)
    }
}

/// Puts a ``ConnectionGuardHandler`` in front of whatever the base child channel sets up
/// (TLS included, so a slow handshake counts against the request deadline).
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let connectionGuard: ConnectionGuard

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuardHandler(connectionGuard: connectionGuard), position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
