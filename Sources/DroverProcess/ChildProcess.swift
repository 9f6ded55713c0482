import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn` and a clean signal mask.
///
/// Foundation's `Process` starts children with the spawning thread's signal mask, which on
/// Linux can leave SIGTERM blocked in the child; a test that sends SIGTERM must not depend
/// on that.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let executable: String
    public let arguments: [String]
    /// Where stdout and stderr go.
    public let logPath: String
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with standard input from /dev/null and standard output and error
    /// appended to `logPath`.
    public convenience init(executable: String, arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        try self.init(executable: executable, arguments: arguments, environment: environment, io: .log(logPath))
    }

    /// Where the child's standard streams go.
    enum IO {
        /// Input from /dev/null, output and errors appended to a file.
        case log(String)
        /// Input and output on these descriptors (the child's ends of pipes); errors go where
        /// this process's go.
        case pipes(input: Int32, output: Int32)
    }

    init(executable: String, arguments: [String], environment: [String: String], io: IO) throws {
        self.executable = executable
        self.arguments = arguments

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch io {
        case .log(let path):
            logPath = path
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .pipes(let input, let output):
            logPath = "/dev/null"
            posix_spawn_file_actions_adddup2(&actions, input, 0)
            posix_spawn_file_actions_adddup2(&actions, output, 1)
        }
        // SwiftNIO opens its sockets without close-on-exec: without this, a child would inherit
        // every connection of this process, and a socket this process closes would stay open
        // (no FIN sent) for as long as the child lives.
        Self.closeInheritedDescriptors(&actions)

        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw ChildProcessError.spawnFailed(executable, String(cString: strerror(rc))) }
        self.pid = pid
    }

    /// Runs `executable` to its end with `input` on its standard input, and returns its wait
    /// status and everything it wrote to standard output.
    ///
    /// The pipes and the wait are served by a thread of their own, so no thread of Swift's
    /// cooperative pool ever blocks on the child. Cancelling the calling task kills the child.
    public static func run(executable: String, arguments: [String], environment: [String: String] = [:], input: [UInt8]) async throws
        -> (status: Int32, output: [UInt8])
    {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0 else { throw ChildProcessError.spawnFailed(executable, String(cString: strerror(errno))) }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0])
            close(toChild[1])
            throw ChildProcessError.spawnFailed(executable, String(cString: strerror(errno)))
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: executable, arguments: arguments, environment: environment, io: .pipes(input: toChild[0], output: fromChild[1]))
        } catch {
            for fd in toChild + fromChild { close(fd) }
            throw error
        }
        close(toChild[0])
        close(fromChild[1])
        let (writeEnd, readEnd) = (toChild[1], fromChild[0])
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread {
                    // A child that exits before reading all its input must not take this process
                    // down with SIGPIPE: blocked on this thread, the write fails with EPIPE instead.
                    var pipeSignal = sigset_t()
                    sigemptyset(&pipeSignal)
                    sigaddset(&pipeSignal, SIGPIPE)
                    pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
                    // The input is written whole before the output is read: a child reads its
                    // job before it answers.
                    Descriptor.writeAll(writeEnd, input)
                    close(writeEnd)
                    let output = Descriptor.readAll(readEnd)
                    close(readEnd)
                    var status: Int32 = 0
                    while waitpid(child.pid, &status, 0) == -1 && errno == EINTR {}
                    child.exitStatus.withLock { $0 = status }
                    continuation.resume(returning: (status, output))
                }.start()
            }
        } onCancel: {
            child.send(SIGKILL)
        }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not import; looked up once.
    private static let addCloseFrom: AddCloseFrom? = dlsym(
        UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np"
    )
    .map { unsafeBitCast($0, to: AddCloseFrom.self) }

    /// Closes every descriptor above standard error in the child.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom {
            _ = addCloseFrom(&actions, 3)
            return
        }
        // An older glibc: close what is open now, one by one.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fcntl(fd, F_GETFD) != -1 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to exit and returns its wait status, or `nil` if it is still
    /// running at the deadline. Polls `waitpid` with `WNOHANG` so no thread blocks on it.
    @discardableResult
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = reapIfExited() { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The wait status if the process has exited.
    public func reapIfExited() -> Int32? {
        exitStatus.withLock { exitStatus in
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                return status
            }
            return nil
        }
    }

    public var isRunning: Bool { reapIfExited() == nil }

    /// Stops the process: SIGTERM, then SIGKILL if it is still there after `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        guard isRunning else { return }
        send(SIGTERM)
        if await waitForExit(timeout: grace) == nil {
            send(SIGKILL)
            await waitForExit(timeout: .seconds(5))
        }
    }

    /// The process's output so far.
    public func output() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case spawnFailed(String, String)
    case notReady(String)

    public var description: String {
        switch self {
        case .spawnFailed(let executable, let reason): return "cannot start \(executable): \(reason)"
        case .notReady(let what): return what
        }
    }
}
