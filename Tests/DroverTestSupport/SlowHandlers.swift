import Drover

extension Gate {
    /// A `slow` handler that counts itself running in `gauge`, waits for `release`, and
    /// returns its payload.
    public static func slowHandlers(gauge: Gauge, release: Gate) -> JobHandlers {
        var handlers = JobHandlers()
        handlers.registerRaw("slow") { payload, _ in
            gauge.enter()
            defer { gauge.leave() }
            await release.wait()
            return payload
        }
        return handlers
    }

}
