// fedgw console
