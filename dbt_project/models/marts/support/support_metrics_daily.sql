{{ support_metrics() }}
