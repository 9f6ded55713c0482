import NIOCore
import NIOPosix

/// A TCP server that answers every read with fixed bytes (or closes the connection), to see
/// how the client takes a peer that is not a well-behaved Redis.
public final class FakeRedisServer: Sendable {
    public enum Behaviour: Sendable {
        /// Sends these bytes whenever something arrives.
        case reply([UInt8])
        /// Closes the connection as soon as something arrives.
        case close
        /// Reads and never answers.
        case silent
    }

    private let channel: any Channel
    public var port: Int { channel.localAddress?.port ?? 0 }
    public var url: String { "redis://127.0.0.1:\(port)" }

    public init(_ behaviour: Behaviour) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(Responder(behaviour: behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    public func stop() async {
        try? await channel.close()
    }

    private final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: Behaviour

        init(behaviour: Behaviour) { self.behaviour = behaviour }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch behaviour {
            case .reply(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .close:
                context.close(promise: nil)
            case .silent:
                break
            }
        }
    }
}
