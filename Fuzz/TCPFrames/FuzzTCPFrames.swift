import DroverMaster
import FuzzSupport
import NIOCore
import NIOEmbedded

/// The master's TCP door on hostile bytes: any input, cut into chunks at arbitrary places,
/// goes through the line framer and every line through the request parser. Nothing may crash,
/// no frame may exceed the limit or hold a newline, and no byte may be framed twice.
@main enum FuzzTCPFrames {
    static let maxLength = 512

    static func main() {
        FuzzDriver.main { input in
            guard let first = input.first else { return }
            // The first byte picks the chunk size, so the fuzzer explores split points too.
            let chunk = Int(first % 64) + 1
            let bytes = input.dropFirst()
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLength: maxLength)))
            var lines = 0
            var framed = 0
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let end = min(start + chunk, bytes.endIndex)
                try! channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
                start = end
                while let frame = try! channel.readInbound(as: Frame.self) {
                    switch frame {
                    case .line(let buffer):
                        precondition(buffer.readableBytes <= maxLength, "a frame over the limit got through")
                        precondition(!buffer.readableBytesView.contains(UInt8(ascii: "\n")), "a frame holds a newline")
                        framed += buffer.readableBytes
                        lines += 1
                        _ = TCPFrame.parse(String(buffer: buffer))
                    case .tooLong(let length):
                        precondition(length > maxLength, "a frame within the limit was refused")
                        framed += length
                        lines += 1
                    }
                }
            }
            // Each newline ends one frame: the framed bytes and the newlines (with any '\r'
            // dropped before them) can never be more than the input.
            precondition(framed + lines <= bytes.count, "bytes were framed twice")
            _ = try? channel.finish()
        }
    }
}
