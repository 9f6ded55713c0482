import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one fuzz target. Built with `-sanitize=fuzzer -DFUZZING` (see `scripts/fuzz`), the
/// program is libFuzzer and takes its options (`-max_total_time=60 corpus/`); built normally,
/// it replays the files and directories it is given, so a crash found once stays a test.
public enum FuzzDriver {
    /// The target's check of one input: it must not crash, whatever the bytes.
    public typealias Body = @Sendable (UnsafeRawBufferPointer) -> Void

    nonisolated(unsafe) static var body: Body = { _ in }

    public static func main(_ body: @escaping Body) -> Never {
        Self.body = body
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
        #else
            var inputs = 0
            for path in CommandLine.arguments.dropFirst() {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    FileHandle.standardError.write(Data("no such input: \(path)\n".utf8))
                    exit(2)
                }
                let files =
                    isDirectory.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
                for file in files {
                    guard let data = FileManager.default.contents(atPath: file) else { continue }
                    data.withUnsafeBytes { body($0) }
                    inputs += 1
                }
            }
            print("\(inputs) inputs replayed, none crashed")
            exit(0)
        #endif
    }
}

/// libFuzzer's entry point for each input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzDriver.body(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
    /// libFuzzer's driver, for a program that has a `main` of its own (as every SwiftPM
    /// executable does).
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
#endif
