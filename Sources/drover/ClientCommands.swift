import ArgumentParser
import Drover
import DroverCore
import Logging

// What the commands that act through a client share: opening the store, closing it, and
// acting on each of several names.
extension ConnectionOptions {
    /// Runs `body` with a client on this connection and closes it after. A store that cannot
    /// be opened, or an error out of `body`, is one line on standard error and exit 1.
    func withClient<T>(label: String, _ body: (DroverClient) async throws -> T) async -> T {
        bootstrapLogging()
        let store: any JobStore
        do {
            store = try self.store(clientName: "drover.cli", logger: Logger(label: label))
        } catch {
            fail("\(error)")
        }
        do {
            let result = try await body(DroverClient(store: store))
            await store.close()
            return result
        } catch {
            await store.close()
            fail("\(error)")
        }
    }

    /// Runs `body` for each name; a refused one is warned about, and the others still run.
    /// Exits 1 if any was refused.
    func forEach(_ names: [String], label: String, _ body: (DroverClient, String) async throws -> Void) async throws {
        let failed = await withClient(label: label) { client in
            var failed = 0
            for name in names {
                do {
                    try await body(client, name)
                } catch {
                    failed += 1
                    warn("\(name): \(error)")
                }
            }
            return failed
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
