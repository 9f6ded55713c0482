import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The raw TCP front door: one JSON object per line, the same operations as REST.
///
/// A request is `{"requestId":1,"op":"submit","type":"noop"}`; its answer echoes the id:
/// `{"requestId":1,"ok":true,"status":201,"result":{...}}` or
/// `{"requestId":1,"ok":false,"error":{"code":"...","message":"..."}}`. Requests on one
/// connection run concurrently, so answers may come back out of order: match them by id.
/// A frame longer than the limit or not a JSON object gets an error frame; after several bad
/// frames in a row the connection is closed. Every other connection carries on.
public final class TCPServer: Service, Sendable {
    let host: String
    let port: Int
    let api: MasterAPI
    let limits: MasterLimits
    let doors: MasterDoors
    let tls: NIOSSLContext?
    let connectionGuard: ConnectionGuard
    let logger: Logger
    private let bound: EventLoopPromise<Int>

    init(host: String, port: Int, api: MasterAPI, limits: MasterLimits, doors: MasterDoors, tls: NIOSSLContext?, logger: Logger) {
        self.host = host
        self.port = port
        self.api = api
        self.limits = limits
        self.doors = doors
        self.tls = tls
        self.connectionGuard = ConnectionGuard(door: "tcp", limits: limits, logger: logger)
        self.logger = logger
        self.bound = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Int.self)
    }

    /// The port actually listened on, once listening (useful with port 0).
    public var boundPort: Int {
        get async throws { try await bound.futureResult.get() }
    }

    public func run() async throws {
        let api = self.api
        let limits = self.limits
        let doors = self.doors
        let tls = self.tls
        let connectionGuard = self.connectionGuard
        let logger = self.logger
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(ConnectionGuardHandler(connectionGuard: connectionGuard))
                        if let tls { try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                        try child.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(LineFrameDecoder(maxLength: limits.maxFrameBytes)))
                        try child.pipeline.syncOperations.addHandler(
                            TCPConnectionHandler(api: api, limits: limits, doors: doors, logger: logger))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            let failure = ListenError(description: "cannot listen for TCP on \(host):\(port): \(error)")
            bound.fail(failure)
            throw failure
        }
        bound.succeed(channel.localAddress?.port ?? port)
        logger.info("TCP listening", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// The TCP door could not listen: the port is taken, or the address is not this machine's.
public struct ListenError: Error, CustomStringConvertible {
    public let description: String
}
