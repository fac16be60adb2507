{{ support_metrics(['team_assignee_id as team_id', 'team_assignee_name as team_name']) }}
