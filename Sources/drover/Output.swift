import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Printing for people: aligned tables, and progress that redraws one line on a terminal and
/// prints plain lines when the output goes to a file or a pipe.
enum Output {
    /// Whether standard error is a terminal (where progress is drawn).
    static let isTerminal = isatty(STDERR_FILENO) == 1

    /// `value` as indented JSON with sorted keys, the form every `--json` prints.
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func table(_ header: [String], _ rows: [[String]]) {
        for line in tableLines(header, rows) { print(line) }
    }

    /// The lines of an aligned table, header first.
    static func tableLines(_ header: [String], _ rows: [[String]]) -> [String] {
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
    }

    /// A progress line on standard error, `label [#####-----] done/total`, so standard
    /// output stays clean for what a command prints (ids, results). On a terminal the line
    /// overwrites itself; otherwise each call prints a plain line.
    static func progress(_ label: String, done: Int, total: Int, detail: String = "") {
        let width = 30
        let filled = total == 0 ? width : min(width, done * width / max(total, 1))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = "\(label) [\(bar)] \(done)/\(total)" + (detail.isEmpty ? "" : "  \(detail)")
        let text = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[2K" + line + (done >= total ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// `3s ago`, `2m ago` for a time in milliseconds since 1970.
    static func age(_ ms: Int64?) -> String {
        guard let ms else { return "-" }
        let seconds = max(0, Int(Date().timeIntervalSince1970 - Double(ms) / 1000))
        if seconds < 120 { return "\(seconds)s ago" }
        if seconds < 7200 { return "\(seconds / 60)m ago" }
        return "\(seconds / 3600)h ago"
    }
}
