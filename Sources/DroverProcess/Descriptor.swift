#if canImport(Glibc)
    import Glibc
#endif

/// Whole reads and writes on a file descriptor (a pipe, standard input or output), retrying
/// interrupted calls and short transfers.
package enum Descriptor {
    /// Everything until end of file (or an error other than EINTR).
    package static func readAll(_ fd: Int32) -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                data += buffer[0..<n]
            } else if n == 0 || errno != EINTR {
                return data
            }
        }
    }

    /// Writes all of `bytes`; false if the descriptor failed first (a closed pipe, say).
    @discardableResult
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            written += n
        }
        return true
    }
}
