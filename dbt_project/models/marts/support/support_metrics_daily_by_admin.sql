{{ support_metrics(['admin_assignee_id as admin_id', 'admin_assignee_name as admin_name']) }}
