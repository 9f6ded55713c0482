import NIOCore

/// One input line, or a line that was too long (its bytes dropped up to the next newline).
package enum Frame {
    case line(ByteBuffer)
    case tooLong(Int)
}

/// Splits input at `\n` (a preceding `\r` is dropped) and never buffers more than
/// `maxLength` bytes of one frame.
package struct LineFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = Frame
    let maxLength: Int
    private var discarding = 0

    package init(maxLength: Int) {
        self.maxLength = maxLength
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            if discarding > 0 {
                buffer.moveReaderIndex(forwardBy: length + 1)
                context.fireChannelRead(wrapInboundOut(.tooLong(discarding + length)))
                discarding = 0
                return .continue
            }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)!
            }
            if length > maxLength {
                context.fireChannelRead(wrapInboundOut(.tooLong(length)))
            } else {
                context.fireChannelRead(wrapInboundOut(.line(line)))
            }
            return .continue
        }
        if buffer.readableBytes > maxLength || discarding > 0 {
            // No newline yet and already too long: drop what we have and keep dropping.
            discarding += buffer.readableBytes
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        return .needMoreData
    }

    package mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
